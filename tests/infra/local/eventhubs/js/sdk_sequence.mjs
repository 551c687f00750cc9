// @azure/event-hubs (the unmodified JavaScript SDK) through a realistic sequence against the local endpoint.
// Run by tests/infra/local/eventhubs/test_js_sdk.py: `node sdk_sequence.mjs`, with EH_CONNECTION_STRING (the
// emulator-form string with the key), EH_HUB (a hub of 2 partitions) and EH_EPOCH_HUB (a hub of 1 partition).
// Prints one JSON document of what it observed; the pytest side holds the expectations.
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  latestEventPosition,
} from "@azure/event-hubs";

const connectionString = process.env.EH_CONNECTION_STRING;
const hub = process.env.EH_HUB;
const epochHub = process.env.EH_EPOCH_HUB;
const retryOptions = { maxRetries: 0, timeoutInMs: 10000 };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function describeError(error) {
  return { name: error?.name ?? null, code: error?.code ?? null, message: String(error?.message ?? error) };
}

async function sendAll(report) {
  const producer = new EventHubProducerClient(connectionString, hub, { retryOptions });
  try {
    const properties = await producer.getEventHubProperties();
    report.hub = { name: properties.name, partitionIds: properties.partitionIds };
    const plain = await producer.createBatch();
    for (let i = 0; i < 6; i++) plain.tryAdd({ body: `plain-${i}` });
    await producer.sendBatch(plain);
    const keyed = await producer.createBatch({ partitionKey: "js-key" });
    for (let i = 0; i < 4; i++) keyed.tryAdd({ body: `keyed-${i}`, properties: { n: i } });
    await producer.sendBatch(keyed);
    await producer.sendBatch([{ body: "to-partition-1" }], { partitionId: "1" });
    await producer.sendBatch([{ body: { json: true, items: [1, 2] } }], { partitionKey: "json-key" });
    report.partitions = {};
    for (const id of properties.partitionIds) {
      const p = await producer.getPartitionProperties(id);
      report.partitions[id] = {
        lastEnqueuedSequenceNumber: p.lastEnqueuedSequenceNumber,
        isEmpty: p.isEmpty,
        beginningSequenceNumber: p.beginningSequenceNumber,
      };
    }
  } finally {
    await producer.close();
  }
}

async function receiveEach(report, expected) {
  const consumer = new EventHubConsumerClient("$Default", connectionString, hub, { retryOptions });
  const received = [];
  const errors = [];
  try {
    const ids = await consumer.getPartitionIds();
    const subscriptions = ids.map((id) =>
      consumer.subscribe(
        id,
        {
          processEvents: async (events, context) => {
            for (const e of events) {
              received.push({
                partition: context.partitionId,
                body: e.body,
                sequenceNumber: e.sequenceNumber,
                offsetIsString: typeof e.offset === "string",
                partitionKey: e.partitionKey ?? null,
                properties: e.properties ?? null,
              });
            }
          },
          processError: async (error) => errors.push(describeError(error)),
        },
        { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
      ),
    );
    await waitFor(() => received.length >= expected, 20000, `${expected} events`);
    await sleep(300); // nothing more arrives
    await Promise.all(subscriptions.map((s) => s.close()));
  } finally {
    await consumer.close();
  }
  received.sort((a, b) => a.partition.localeCompare(b.partition) || a.sequenceNumber - b.sequenceNumber);
  report.received = received;
  report.receiveErrors = errors;
}

async function wrongKey(report) {
  const wrong = connectionString.replace(/SharedAccessKey=[^;]*/, "SharedAccessKey=not-the-key");
  const producer = new EventHubProducerClient(wrong, hub, { retryOptions });
  try {
    await producer.getEventHubProperties();
    report.wrongKey = null;
  } catch (error) {
    report.wrongKey = describeError(error);
  } finally {
    await producer.close();
  }
  const sender = new EventHubProducerClient(wrong, hub, { retryOptions });
  try {
    await sender.sendBatch([{ body: "never" }], { partitionId: "0" });
    report.wrongKeySend = null;
  } catch (error) {
    report.wrongKeySend = describeError(error);
  } finally {
    await sender.close();
  }
}

async function ownerLevels(report) {
  const producer = new EventHubProducerClient(connectionString, epochHub, { retryOptions });
  const clients = [];
  const subscribe = (ownerLevel, sink) => {
    const client = new EventHubConsumerClient("$Default", connectionString, epochHub, { retryOptions });
    clients.push(client);
    return client.subscribe(
      "0",
      {
        processEvents: async (events) => sink.events.push(...events.map((e) => e.body)),
        processError: async (error) => sink.errors.push(describeError(error)),
      },
      { startPosition: latestEventPosition, ownerLevel, maxWaitTimeInSeconds: 1 },
    );
  };
  try {
    const first = { events: [], errors: [] };
    const second = { events: [], errors: [] };
    const lower = { events: [], errors: [] };
    const subscriptions = [subscribe(1, first)];
    await sleep(1500); // the first receiver is attached
    await producer.sendBatch([{ body: "before-steal" }], { partitionId: "0" });
    await waitFor(() => first.events.length >= 1, 10000, "the first receiver's event");
    subscriptions.push(subscribe(2, second));
    await waitFor(() => first.errors.length >= 1, 10000, "the first receiver to be disconnected");
    await sleep(1000);
    await producer.sendBatch([{ body: "after-steal" }], { partitionId: "0" });
    await waitFor(() => second.events.includes("after-steal"), 10000, "the second receiver's event");
    subscriptions.push(subscribe(1, lower));
    await waitFor(() => lower.errors.length >= 1, 10000, "the lower owner level to be refused");
    await Promise.all(subscriptions.map((s) => s.close()));
    report.ownerLevel = {
      first: { events: first.events, error: first.errors[0] },
      second: { events: second.events, errors: second.errors.length },
      lower: { events: lower.events, error: lower.errors[0] },
    };
  } finally {
    await producer.close();
    await Promise.all(clients.map((c) => c.close()));
  }
}

const report = {};
try {
  await sendAll(report);
  await receiveEach(report, 12);
  await wrongKey(report);
  await ownerLevels(report);
} catch (error) {
  report.fatal = describeError(error);
}
process.stdout.write(JSON.stringify(report));
process.exit(0);
