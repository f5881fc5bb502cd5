/**
 * The versions of the servers and tools orderstream runs beside itself, in one place: scripts/tools.ts
 * builds these with Go when they are missing (npm start, the test suite's global setup, .ci/run).
 */
export const NATS_SERVER_VERSION = "v2.15.3";
export const NATSCLI_VERSION = "v0.5.0";
/** Jaeger's Go module v1.75.0 is the Jaeger v2.12.0 backend. */
export const JAEGER_MODULE_VERSION = "v1.75.0";
export const VICTORIA_LOGS_VERSION = "v1.52.2";
