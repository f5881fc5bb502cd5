/**
 * Creates the streams, consumers and buckets a service needs, idempotently: what exists is bound
 * and left as it is (a second instance starting never resets a consumer's position), what is
 * missing is created; two instances racing to create the same thing both succeed.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { bucketOptions, notificationsStreamConfig, ordersStreamConfig, partitionConsumerConfig } from "./definitions.ts";
import { PARTITIONS, type ServiceName } from "./subjects.ts";

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Adds a stream unless one of that name exists. */
export async function ensureStream(jsm: JetStreamManager, config: ReturnType<typeof ordersStreamConfig>): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    return;
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
  }
  try {
    await jsm.streams.add(config);
  } catch (err) {
    // Lost a creation race to another instance: fine if the stream is there now.
    await jsm.streams.info(config.name).catch(() => {
      throw err;
    });
  }
}

/** Adds a durable consumer unless it exists. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: ReturnType<typeof partitionConsumerConfig>,
): Promise<void> {
  try {
    await jsm.consumers.info(stream, config.durable_name);
    return;
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
  }
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    await jsm.consumers.info(stream, config.durable_name).catch(() => {
      throw err;
    });
  }
}

/**
 * Binds a KV bucket, creating it when missing. (`Kvm.open` binds blindly, so existence is checked
 * on the bucket's stream, which also tells whether direct gets are allowed.)
 */
export async function ensureBucket(nc: NatsConnection, jsm: JetStreamManager, name: string, options: object): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    const info = await jsm.streams.info(`KV_${name}`);
    return await kvm.open(name, { allow_direct: info.config.allow_direct });
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
  }
  try {
    return await kvm.create(name, options);
  } catch (err) {
    const info = await jsm.streams.info(`KV_${name}`).catch(() => Promise.reject(err));
    return kvm.open(name, { allow_direct: info.config.allow_direct });
  }
}

export async function ensureOrderStreams(jsm: JetStreamManager, replicas: number): Promise<void> {
  await ensureStream(jsm, ordersStreamConfig(replicas));
  await ensureStream(jsm, notificationsStreamConfig(replicas));
}

export async function ensurePartitionConsumers(jsm: JetStreamManager, stream: string, service: ServiceName): Promise<void> {
  await Promise.all(
    Array.from({ length: PARTITIONS }, (_, p) => ensureConsumer(jsm, stream, partitionConsumerConfig(service, p))),
  );
}

export { bucketOptions };
