/**
 * The delivery worker process (the container's default command): reads the
 * environment once, wires the worker, traps SIGTERM/SIGINT for a graceful stop.
 */
import pino from 'pino';
import { ConfigError } from '../src/config/env.js';
import { loadWorkerConfig } from '../src/config/worker.js';
import { DeliveryWorker } from '../src/dispatch/runtime.js';

const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'utskick-worker', pid: process.pid },
});

let config: ReturnType<typeof loadWorkerConfig>;
try {
  config = loadWorkerConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`worker: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const worker = new DeliveryWorker(config, logger);
let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  logger.info({ signal }, 'signal received');
  // A stop that cannot finish (Redis unreachable) must not outlive the grace period by much;
  // exiting then is as safe as SIGKILL: locks expire and another worker takes the jobs.
  setTimeout(() => {
    logger.error(
      { graceMs: config.shutdownGraceMs },
      'shutdown did not finish within the grace period; exiting',
    );
    process.exit(1);
  }, config.shutdownGraceMs + 2000).unref();
  worker.stop().then(
    () => process.exit(0),
    (err) => {
      logger.error({ err: (err as Error).message }, 'error while stopping');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
process.on('unhandledRejection', (err) => {
  logger.error({ err: (err as Error)?.message }, 'unhandled rejection');
});

try {
  await worker.start();
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'worker failed to start');
  await worker.stop(0).catch(() => {});
  process.exit(1);
}
