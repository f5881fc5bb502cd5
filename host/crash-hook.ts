/**
 * A test hook, never set in production: with ORDERSTREAM_TEST_CRASH_ON=<userId> (read by
 * host/run-service.ts) a service process exits when its handler is given an event of that user —
 * a message that kills its consumer, for test/crash-loop.int.spec.ts. Unset, nothing is wrapped.
 */
import type { HandlerFactory } from "../nats/delivery.ts";
import type { Logger } from "../shared/logger.ts";

export interface CrashOn {
  userId: string;
  /** The runtime's process exit. */
  exit(code: number): never;
}

/** Exit code of a process killed by the hook. */
export const TEST_CRASH_EXIT_CODE = 86;

/** The handlers, made to kill the process on an event of `crashOn.userId`. */
export function crashingOn(make: HandlerFactory, crashOn: CrashOn, log: Logger): HandlerFactory {
  return () => {
    const inner = make();
    return {
      forget: (orderId) => inner.forget(orderId),
      handle(event, delivery) {
        if ((event as { userId?: string }).userId === crashOn.userId) {
          log.fatal(
            { orderId: event.orderId, seq: delivery.seq, consumer: delivery.consumer },
            "ORDERSTREAM_TEST_CRASH_ON: killing the process",
          );
          crashOn.exit(TEST_CRASH_EXIT_CODE);
        }
        return inner.handle(event, delivery);
      },
    };
  };
}
