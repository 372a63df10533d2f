package dev.peridot.virtio.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.transport.mmio.DriverNotificationSink;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioProperties;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.ServiceRegistration;

/** Driver-notification sinks come and go at runtime (whiteboard): a sink registered later receives the next interrupt, a removed one nothing more. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class WhiteboardIT extends PeridotTestSupport {

    @Test
    public void sinksComeAndGo() throws Exception {
        createConsole("wb0");
        MmioDeviceAccess window = window("wb0");
        try (Guest guest = guest(window, 1)) {
            List<DriverQueue> queues = guest.driver.initialize(FeatureSet.of(32), 2, 64);
            DriverQueue tx = queues.get(1);
            AtomicInteger bySlot = new AtomicInteger();
            AtomicInteger byName = new AtomicInteger();
            AtomicInteger otherSlot = new AtomicInteger();
            ServiceRegistration<DriverNotificationSink> slotSink = register(counting(bySlot), MmioProperties.SLOT, window.slot());
            ServiceRegistration<DriverNotificationSink> nameSink = register(counting(byName), MmioProperties.DEVICE_NAME, "wb0");
            ServiceRegistration<DriverNotificationSink> otherSink = register(counting(otherSlot), MmioProperties.SLOT, window.slot() + 1);
            send(guest, tx);
            assertEquals("a sink registered later gets the next interrupt", 1, bySlot.get());
            assertEquals(1, byName.get());
            slotSink.unregister();
            send(guest, tx);
            assertEquals("a removed sink gets nothing more", 1, bySlot.get());
            assertEquals(2, byName.get());
            assertEquals("a sink for another slot gets nothing", 0, otherSlot.get());
            nameSink.unregister();
            otherSink.unregister();
            send(guest, tx);
            assertEquals(2, byName.get());
            assertTrue(guest.driver.interruptCount() >= 3);
        }
    }

    private static DriverNotificationSink counting(AtomicInteger counter) {
        return (slot, irq, asserted, status) -> {
            if (asserted) {
                counter.incrementAndGet();
            }
        };
    }

    private ServiceRegistration<DriverNotificationSink> register(DriverNotificationSink sink, String key, Object value) {
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(key, value);
        return context.registerService(DriverNotificationSink.class, sink, props);
    }

    /**
     * One buffer, its interrupt seen by the guest's own sink and acknowledged, so the next buffer
     * raises the line again. The device publishes the used index just before it raises the line,
     * so the guest waits for its sink rather than for the completion alone.
     */
    private static void send(Guest guest, DriverQueue tx) throws InterruptedException {
        long before = guest.driver.interruptCount();
        tx.addOutbound(new byte[] {1});
        tx.kick();
        guest.driver.awaitCompletions(tx, 1, TIMEOUT_MILLIS);
        long deadline = System.nanoTime() + TIMEOUT_MILLIS * 1_000_000L;
        while (guest.driver.interruptCount() == before && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        while (guest.driver.window().interruptAsserted() && System.nanoTime() < deadline) {
            guest.driver.handleInterrupt();
        }
    }
}
