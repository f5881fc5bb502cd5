/** Every registered service's definition by name (shared/services.ts lists them): what the entries, the CLI and the tests start. */
import type { ServiceDefinition } from "../host/service-definition.ts";
import type { ServiceName } from "../nats/subjects.ts";
import { orderService } from "./order/service.ts";
import { paymentService } from "./payment/service.ts";
import { shippingService } from "./shipping/service.ts";
import { notificationService } from "./notification/service.ts";
import { loyaltyService } from "./loyalty/service.ts";

export const serviceDefinitions: Record<ServiceName, ServiceDefinition<any>> = {
  order: orderService,
  payment: paymentService,
  shipping: shippingService,
  notification: notificationService,
  loyalty: loyaltyService,
};
