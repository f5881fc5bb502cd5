import { describe, expect, it } from "vitest";
import { consumerNames, SERVICES, serviceOfConsumer } from "./subjects.ts";

describe("serviceOfConsumer (whose dead letter `dlq retry` hands back)", () => {
  it("given every lane consumer of every service, then it names that service", () => {
    for (const service of SERVICES) for (const name of consumerNames(service)) expect(serviceOfConsumer(name), name).toBe(service);
  });

  it("given a per-partition consumer that wrote dead letters before the lanes, then it names its service too", () => {
    expect(serviceOfConsumer("payment-p03")).toBe("payment");
    expect(serviceOfConsumer("notification-p15")).toBe("notification");
  });

  it("given a name that is no service's consumer, then it is null", () => {
    for (const name of ["payments-lane1", "billing-lane0", "payment-dlq-retry", "payment-lane"]) {
      expect(serviceOfConsumer(name), name).toBeNull();
    }
  });
});
