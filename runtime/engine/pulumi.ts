/**
 * `npm run pulumi -- <args>`: the pulumi CLI of the project's toolchain with
 * the project's state backend (backend.ts), so a plain `config set` or
 * `stack ls` never tries to log in to Pulumi Cloud. Signals reach the CLI:
 * SIGTERM and SIGHUP are forwarded; Ctrl-C in a terminal reaches it directly
 * (one cancel, not two: a second SIGINT makes pulumi stop without cleaning
 * up), and a SIGINT from elsewhere is forwarded.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { backendUrl } from "./backend";

const child = spawn("pulumi", process.argv.slice(2), { stdio: "inherit", env: { ...process.env, PULUMI_BACKEND_URL: backendUrl() } });
for (const signal of ["SIGTERM", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
process.on("SIGINT", () => {
    if (!process.stdin.isTTY) child.kill("SIGINT");
});
child.on("error", (err) => {
    console.error(`npm run pulumi: could not start pulumi (${err.message}); run ./scripts/setup.sh first`);
    process.exit(127);
});
child.on("exit", (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
