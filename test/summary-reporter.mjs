// Prints one plain closing line per jest run, e.g. "unit: 163 passed, 0 failed, 2 skipped", as the
// very last line (at exit, after jest's own summary), which CI reads as the run's result; then
// removes the run's temporary folder (jest.config.js).
import { rmSync } from "node:fs";

export default class SummaryReporter {
  onRunComplete(contexts, results) {
    const names = [...contexts].map((context) => context.config.displayName?.name).filter(Boolean);
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${names.join("+") || "tests"}: ${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}`;
    process.once("exit", () => {
      const tmp = process.env.FORGEJO_ARC_JEST_TMPDIR;
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      process.stdout.write(`${line}\n`);
    });
  }
}
