/**
 * The 1177 inbox simulator as a process:
 *   npm run simulator -- [--port N] [--tls --cert F --key F [--ca F]] [--unreachable SHARE]
 *     [--login-blocked SHARE] [--rejected SHARE] [--error-rate SHARE] [--timeout-rate SHARE]
 *     [--timeout-ms N] [--latency-ms N] [--jitter-ms N] [--jitter uniform|exponential]
 *     [--retry-after-rate SHARE] [--retry-after-seconds N] [--max-rate N]
 *     [--outage-after-ms N --outage-ms N] [--unauthorized] [--dedupe] [--seed S]
 *     [--contract mvk-inbox-2|patientportal-2] [--validate xsd|own|sample:N]
 * Prints `INBOX_URL=<url>` on stdout once listening, and on stderr how it
 * validates requests (the published XSD from INBOX_XSD_DIR, or its own
 * validator when that folder is absent); SIGTERM/SIGINT stop it (exit 0).
 * A bad argument: one line on stderr, exit 2.
 */
import { parseSimulatorArgs, UsageError } from '../src/simulator/cli-args.js';
import { SimulatorOptionsError } from '../src/simulator/options.js';
import { createSimulator } from '../src/simulator/simulator.js';

async function main(): Promise<void> {
  let simulator: ReturnType<typeof createSimulator>;
  try {
    simulator = createSimulator(parseSimulatorArgs(process.argv.slice(2)));
  } catch (err) {
    if (err instanceof UsageError || err instanceof SimulatorOptionsError) {
      process.stderr.write(`simulator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const v = simulator.validation;
  process.stderr.write(
    v.kind === 'xsd'
      ? `simulator: validating AddMessage against the published XSD in ${v.dir}${v.sampleEvery > 1 ? ` (1 new envelope shape in ${v.sampleEvery})` : ''}\n`
      : `simulator: validating with its own validator only: ${v.reason}\n`,
  );
  const { url } = await simulator.start();
  process.stdout.write(`INBOX_URL=${url}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    simulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator: ${(err as Error).message}\n`);
  process.exit(1);
});
