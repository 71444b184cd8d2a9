/**
 * The delivery worker process (the container's default command): reads the
 * environment once, wires the worker, traps SIGTERM/SIGINT for a graceful stop.
 * Exit 2: a setting is wrong (named on one line); 1: it failed otherwise.
 */
import pino, { type Logger } from 'pino';
import { ConfigError } from '../src/config/env.js';
import { loadWorkerConfig, type WorkerConfig } from '../src/config/worker.js';
import { DeliveryWorker } from '../src/dispatch/runtime.js';
import { RedisConnectionError } from '../src/queue/redis.js';

/** One line on stderr and exit 2: a wrong setting is not worth a restart loop of stack traces. */
function exitWrongSetting(message: string): never {
  process.stderr.write(`worker: ${message}\n`);
  process.exit(2);
}

/** The configuration, validated before anything else (the logger's level included). */
function loadConfig(): WorkerConfig {
  try {
    return loadWorkerConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) exitWrongSetting(err.message);
    throw err;
  }
}

function trapSignals(worker: DeliveryWorker, config: WorkerConfig, logger: Logger): void {
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
}

const config = loadConfig();
const logger = pino({ level: config.logLevel, base: { service: 'utskick-worker', pid: process.pid } });
const worker = new DeliveryWorker(config, logger);
trapSignals(worker, config, logger);
process.on('unhandledRejection', (err) => {
  logger.error({ err: (err as Error)?.message }, 'unhandled rejection');
});

try {
  await worker.start();
} catch (err) {
  // Nothing was taken from the queue yet: a wrong Redis setting exits at once.
  if (err instanceof RedisConnectionError && !err.retryable) exitWrongSetting(err.message);
  logger.fatal({ err: (err as Error).message }, 'worker failed to start');
  await worker.stop(0).catch(() => {});
  process.exit(1);
}
