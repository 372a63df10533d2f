package dev.peridot.virtio.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import dev.peridot.virtio.console.VirtioConsole;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.DeviceState;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.LifeCycleOperations;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.transport.mmio.MmioBus;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioProperties;
import dev.peridot.virtio.transport.mmio.MmioRegisters;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;

/**
 * The console component registers its operation services, the MMIO transport binds it and
 * publishes the per-device access service with the right properties, and the test kit brings
 * the device to DRIVER_OK through that service and moves data both ways.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class ConsoleWiringIT extends PeridotTestSupport {

    @Test
    public void consoleIsRegisteredBoundAndUsable() throws Exception {
        Configuration config = createConsole("wire0");
        for (Class<?> type : new Class<?>[] {ConfigOperations.class, RunOperations.class, FeatureOperations.class,
                LifeCycleOperations.class, VirtioConsole.class}) {
            assertNotNull(type.getSimpleName(), await(type, named("wire0")));
        }
        MmioDeviceAccess window = window("wire0");
        ServiceReference<?> ref = reference(MmioDeviceAccess.class, named("wire0"));
        int slot = (Integer) ref.getProperty(MmioProperties.SLOT);
        MmioBus bus = await(MmioBus.class, null);
        assertEquals(bus.layout().base(slot), ref.getProperty(MmioProperties.BASE));
        assertEquals(bus.layout().windowSize(), ref.getProperty(MmioProperties.SIZE));
        assertEquals(bus.layout().firstIrq() + slot, ref.getProperty(MmioProperties.IRQ));
        assertEquals(3, ref.getProperty(MmioProperties.DEVICE_ID));
        assertEquals(3, window.read(MmioRegisters.DEVICE_ID, 4));
        assertEquals(MmioRegisters.MAGIC, bus.read(bus.layout().base(slot), 4));

        VirtioConsole console = await(VirtioConsole.class, named("wire0"));
        try (Guest guest = guest(window, 1)) {
            List<DriverQueue> queues = guest.driver.initialize(FeatureSet.of(0, 29, 32), 2, 64);
            assertEquals(0x0F, guest.driver.status() & 0x0F);
            DriverQueue rx = queues.get(0);
            DriverQueue tx = queues.get(1);
            rx.addInbound(64);
            rx.kick();
            tx.addOutbound("from the guest".getBytes(StandardCharsets.US_ASCII));
            tx.kick();
            guest.driver.awaitCompletions(tx, 1, TIMEOUT_MILLIS);
            assertEquals("from the guest", new String(console.read(0, 100), StandardCharsets.US_ASCII));
            assertEquals(13, console.send(0, "from the host".getBytes(StandardCharsets.US_ASCII)));
            List<DriverQueue.Completion> in = guest.driver.awaitCompletions(rx, 1, TIMEOUT_MILLIS);
            assertArrayEquals("from the host".getBytes(StandardCharsets.US_ASCII), in.get(0).data());
            assertTrue("interrupts reached the test kit through the whiteboard", guest.driver.interruptCount() >= 1);
            LifeCycleOperations life = await(LifeCycleOperations.class, named("wire0"));
            assertEquals(DeviceState.DRIVER_OK, life.state());
        }
        config.delete();
        awaitGone(MmioDeviceAccess.class, named("wire0"));
        assertEquals(0, window.read(MmioRegisters.DEVICE_ID, 4));
    }
}
