/**
 * What nats/request-cancel.ts relies on in nats.js, pinned: the patch replaces a method of a class
 * nats.js exports without documenting it, so any change to that method's shape or behaviour must
 * fail here, before it reaches a service. A failure means: read the new nats.js source
 * (node_modules/@nats-io/nats-core/lib/request.js), then fix or drop the patch (docs/upstream.md).
 * Real nats.js objects throughout (a RequestOne on a MuxSubscription); no server is needed, as
 * nothing is sent.
 */
import { errors, MuxSubscription, RequestOne, type Msg } from "@nats-io/transport-node";
import { describe, expect, it, vi } from "vitest";
import { originalCancel, shareRequestCancelError } from "./request-cancel.ts";

const UPGRADE = "nats.js changed RequestOne: nats/request-cancel.ts patches it, see docs/upstream.md";

/** A request as nats.js builds it for `nc.request()` with `noAsyncTraces` (nats/connect.ts). */
function aRequest(): RequestOne {
  return new RequestOne(new MuxSubscription(), "orders.request", { timeout: 1_000 }, false);
}

/** How the request's promise settled. */
function outcome(request: RequestOne): Promise<{ value?: unknown; error?: unknown }> {
  return request.deferred.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe("nats.js's RequestOne, as nats/request-cancel.ts patches it", () => {
  const original = originalCancel(RequestOne.prototype.cancel);

  it("is still exported, with cancel a prototype method taking one optional error", () => {
    expect(typeof RequestOne, UPGRADE).toBe("function");
    expect(Object.hasOwn(RequestOne.prototype, "cancel"), UPGRADE).toBe(true);
    expect(typeof original, UPGRADE).toBe("function");
    expect(original.length, UPGRADE).toBe(1);
  });

  it("given no reason, rejects the request with a new RequestError 'cancelled' (the cost the patch saves)", async () => {
    const first = aRequest();
    const second = aRequest();
    const settled = [outcome(first), outcome(second)];
    original.call(first);
    original.call(second);
    const [a, b] = (await Promise.all(settled)).map((o) => o.error);
    expect(a, UPGRADE).toBeInstanceOf(errors.RequestError);
    expect((a as Error).message, UPGRADE).toBe("cancelled");
    expect(b, `${UPGRADE} (it no longer builds an error per call)`).not.toBe(a);
  });

  it("given a reason, rejects the request with that reason", async () => {
    const request = aRequest();
    const settled = outcome(request);
    const reason = new errors.RequestError("publish failed");
    original.call(request, reason);
    expect((await settled).error, UPGRADE).toBe(reason);
  });

  it("cancels every answered request, without a reason, after resolving it (why the patch pays)", async () => {
    const request = aRequest();
    const settled = outcome(request);
    const cancel = vi.spyOn(request, "cancel");
    const answer = { subject: "_INBOX.answer" } as Msg;
    request.resolver(null, answer);
    expect(cancel, `${UPGRADE} (answered requests are no longer cancelled: the patch may go)`).toHaveBeenCalledTimes(1);
    expect(cancel.mock.calls[0], UPGRADE).toEqual([]);
    expect((await settled).value, UPGRADE).toBe(answer);
  });
});

describe("shareRequestCancelError", () => {
  it("wraps nats.js's cancel once, and then cancels without a reason with one shared RequestError", async () => {
    const before = originalCancel(RequestOne.prototype.cancel);
    shareRequestCancelError();
    shareRequestCancelError();
    const installed = RequestOne.prototype.cancel;
    expect(installed).not.toBe(before);
    expect(originalCancel(installed)).toBe(before);

    const first = aRequest();
    const second = aRequest();
    const settled = [outcome(first), outcome(second)];
    first.cancel();
    second.cancel();
    const [a, b] = (await Promise.all(settled)).map((o) => o.error);
    expect(a).toBeInstanceOf(errors.RequestError);
    expect((a as Error).message).toBe("cancelled");
    expect(b).toBe(a);

    const failed = aRequest();
    const reason = new errors.RequestError("publish failed");
    const failedOutcome = outcome(failed);
    failed.cancel(reason);
    expect((await failedOutcome).error).toBe(reason);
  });
});
