//! `wrangler dev` without a debugger attached, for the service bench (scripts/lib.sh starts it in
//! place of `wrangler dev` when WRANGLER_DEV_INSPECTOR=off).
//!
//! `wrangler dev` always connects its DevTools proxy to the runtime's inspector, and then every
//! `console` call is also serialised for DevTools, sent to wrangler's proxy process and printed
//! by its Node process: measured on the bench's JS reference, one log line per request cost
//! 1.5-1.7 ms of CPU across the processes (0.8-0.9 ms of it in workerd), which a deployed
//! Worker, with no debugger attached, never pays. wrangler's own API (`unstable_startWorker`)
//! can leave the inspector out (and the file watching), which the CLI cannot, and print only the
//! Worker's warnings and errors.
//!
//! Takes the subset of `wrangler dev` flags scripts/lib.sh passes: --ip, --port, --persist-to,
//! --config, --log-level, --test-scheduled, --var NAME:VALUE (repeatable); --inspector-port and
//! --show-interactive-dev-session are accepted and ignored. Runs until SIGTERM or SIGINT.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "package.json"));
const { unstable_startWorker: startWorker } = require("wrangler");

const flags = { vars: {}, testScheduled: false };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const [name, inline] = args[i].split(/=(.*)/s, 2);
  const value = () => inline ?? args[++i];
  switch (name) {
    case "--ip": flags.ip = value(); break;
    case "--port": flags.port = Number(value()); break;
    case "--persist-to": flags.persist = value(); break;
    case "--config": flags.config = value(); break;
    case "--log-level": flags.logLevel = value(); break;
    case "--test-scheduled": flags.testScheduled = true; break;
    case "--var": {
      const pair = value();
      const colon = pair.indexOf(":");
      if (colon < 1) throw new Error(`--var wants NAME:VALUE, got ${pair}`);
      flags.vars[pair.slice(0, colon)] = { type: "plain_text", value: pair.slice(colon + 1) };
      break;
    }
    case "--inspector-port": value(); break;
    case "--show-interactive-dev-session": if (inline === undefined && /^(true|false)$/.test(args[i + 1] ?? "")) i++; break;
    default: throw new Error(`dev-uninspected: unsupported flag ${args[i]}`);
  }
}

const worker = await startWorker({
  config: flags.config ?? "wrangler.toml",
  bindings: flags.vars,
  dev: {
    server: { hostname: flags.ip ?? "127.0.0.1", port: flags.port ?? 0 },
    inspector: false,
    // The bundle is built before the start and fixed for the run: no rebuild or reload on a file
    // change (wrangler dev would, dropping the requests in flight).
    watch: false,
    persist: flags.persist,
    logLevel: flags.logLevel,
    // The Worker's console lines: wrangler's own handler source-maps every line before its
    // logger drops those under --log-level (~0.5 ms of Node's CPU per line, measured on the
    // service's cached read); on Cloudflare, Workers Logs collects them outside the Worker.
    // Warnings and errors are still printed.
    structuredLogsHandler: ({ level, message }) => {
      if (level === "warn" || level === "error") console.error(message);
    },
    testScheduled: flags.testScheduled,
  },
});
console.log(`Ready on ${await worker.url}`);

const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
