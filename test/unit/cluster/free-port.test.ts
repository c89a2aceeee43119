import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { freePort } from "../../../scripts/cluster/cluster.ts";

describe("freePort", () => {
  it("hands out distinct ports on 127.0.0.1, below the kernel's ephemeral range, that can be listened on", async () => {
    const ephemeralFrom = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(20000);
      expect(port).toBeLessThan(ephemeralFrom);
      const server = createServer();
      await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
