// The unmodified Java client (com.azure:azure-messaging-eventhubs) through a realistic sequence against the
// local endpoint. Run by tests/conformance/eventhubs/java_sdk.py as a single-file program:
//   java -cp <resolved class path> JavaSdkSequence.java <connection string with key> <hub> <epoch hub>
// Prints one "name=value" line per observation; the Python side holds the expectations.
import com.azure.messaging.eventhubs.EventData;
import com.azure.messaging.eventhubs.EventDataBatch;
import com.azure.messaging.eventhubs.EventHubClientBuilder;
import com.azure.messaging.eventhubs.EventHubConsumerAsyncClient;
import com.azure.messaging.eventhubs.EventHubConsumerClient;
import com.azure.messaging.eventhubs.EventHubProducerClient;
import com.azure.messaging.eventhubs.EventHubProperties;
import com.azure.messaging.eventhubs.PartitionProperties;
import com.azure.messaging.eventhubs.models.CreateBatchOptions;
import com.azure.messaging.eventhubs.models.EventPosition;
import com.azure.messaging.eventhubs.models.PartitionEvent;
import com.azure.messaging.eventhubs.models.ReceiveOptions;
import com.azure.messaging.eventhubs.models.SendOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import reactor.core.Disposable;

public class JavaSdkSequence {
    static void out(String name, Object value) {
        System.out.println(name + "=" + value);
    }

    static String describe(Throwable error) {
        String message = String.valueOf(error.getMessage()).replace('\n', ' ');
        return error.getClass().getSimpleName() + ": " + message;
    }

    public static void main(String[] args) throws Exception {
        String connectionString = args[0];
        String hub = args[1];
        String epochHub = args[2];

        EventHubProducerClient producer = new EventHubClientBuilder()
            .connectionString(connectionString, hub).buildProducerClient();
        EventHubProperties properties = producer.getEventHubProperties();
        out("hub", properties.getName() + " " + String.join(",", properties.getPartitionIds()));
        EventDataBatch plain = producer.createBatch();
        for (int i = 0; i < 5; i++) plain.tryAdd(new EventData("plain-" + i));
        producer.send(plain);
        EventDataBatch keyed = producer.createBatch(new CreateBatchOptions().setPartitionKey("java-key"));
        for (int i = 0; i < 3; i++) keyed.tryAdd(new EventData("keyed-" + i));
        producer.send(keyed);
        producer.send(List.of(new EventData("to-partition-1")), new SendOptions().setPartitionId("1"));
        for (String id : properties.getPartitionIds()) {
            PartitionProperties p = producer.getPartitionProperties(id);
            out("partition." + id, p.getLastEnqueuedSequenceNumber() + " " + p.isEmpty());
        }
        producer.close();

        EventHubConsumerClient consumer = new EventHubClientBuilder()
            .connectionString(connectionString, hub).consumerGroup("$Default").buildConsumerClient();
        for (String id : List.of("0", "1")) {
            List<String> seen = new ArrayList<>();
            for (PartitionEvent event : consumer.receiveFromPartition(id, 100, EventPosition.earliest(),
                    Duration.ofSeconds(3))) {
                EventData data = event.getData();
                seen.add(data.getBodyAsString() + "@" + data.getSequenceNumber() + ":" + data.getPartitionKey());
            }
            out("received." + id, String.join(",", seen));
        }
        consumer.close();

        String wrong = connectionString.replaceAll("SharedAccessKey=[^;]*", "SharedAccessKey=not-the-key");
        EventHubProducerClient intruder = new EventHubClientBuilder()
            .connectionString(wrong, hub).buildProducerClient();
        try {
            intruder.getEventHubProperties();
            out("wrongKey", "accepted");
        } catch (RuntimeException error) {
            out("wrongKey", describe(error));
        } finally {
            intruder.close();
        }

        // owner level: epoch 2 takes partition 0 from epoch 1
        List<String> firstEvents = new CopyOnWriteArrayList<>();
        List<String> firstErrors = new CopyOnWriteArrayList<>();
        List<String> secondEvents = new CopyOnWriteArrayList<>();
        EventHubConsumerAsyncClient first = new EventHubClientBuilder()
            .connectionString(connectionString, epochHub).consumerGroup("$Default").buildAsyncConsumerClient();
        EventHubConsumerAsyncClient second = new EventHubClientBuilder()
            .connectionString(connectionString, epochHub).consumerGroup("$Default").buildAsyncConsumerClient();
        EventHubProducerClient epochProducer = new EventHubClientBuilder()
            .connectionString(connectionString, epochHub).buildProducerClient();
        Disposable a = first.receiveFromPartition("0", EventPosition.latest(), new ReceiveOptions().setOwnerLevel(1L))
            .subscribe(e -> firstEvents.add(e.getData().getBodyAsString()), e -> firstErrors.add(describe(e)));
        Thread.sleep(2000);
        epochProducer.send(List.of(new EventData("before-steal")), new SendOptions().setPartitionId("0"));
        waitFor(() -> !firstEvents.isEmpty(), 15000);
        Disposable b = second.receiveFromPartition("0", EventPosition.latest(), new ReceiveOptions().setOwnerLevel(2L))
            .subscribe(e -> secondEvents.add(e.getData().getBodyAsString()), e -> { });
        waitFor(() -> !firstErrors.isEmpty(), 15000);
        Thread.sleep(1000);
        epochProducer.send(List.of(new EventData("after-steal")), new SendOptions().setPartitionId("0"));
        waitFor(() -> !secondEvents.isEmpty(), 15000);
        out("epoch.first", String.join(",", firstEvents));
        out("epoch.firstError", firstErrors.isEmpty() ? "none" : firstErrors.get(0));
        out("epoch.second", String.join(",", secondEvents));
        a.dispose();
        b.dispose();
        first.close();
        second.close();
        epochProducer.close();
        out("done", "true");
        System.exit(0);
    }

    interface Condition {
        boolean holds();
    }

    static void waitFor(Condition condition, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!condition.holds() && System.currentTimeMillis() < deadline) Thread.sleep(25);
    }
}
