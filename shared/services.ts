/** The four services by name: what configuration, NATS names, logs and entries all key on. */
export const SERVICES = ["order", "payment", "shipping", "notification"] as const;
export type ServiceName = (typeof SERVICES)[number];

export function isServiceName(name: string): name is ServiceName {
  return (SERVICES as readonly string[]).includes(name);
}
