import { formatDuration, parseDuration } from "../../../src/api/duration.ts";

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["10s", 10_000],
    ["1m30s", 90_000],
    ["1.5h", 5_400_000],
    ["2h0m", 7_200_000],
  ])("parses %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "10", "s", "10 s", "-1s", "1d", "1m x"])("rejects %j", (text) => expect(parseDuration(text)).toBeUndefined());

  it.each([
    [500, "500ms"],
    [2000, "2s"],
    [90_000, "1m30s"],
    [86_400_000, "24h"],
  ])("formats %d ms as %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
