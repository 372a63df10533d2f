package dev.peridot.virtio.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import java.util.Dictionary;
import java.util.List;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.service.cm.Configuration;

/**
 * A console port configuration added or deleted at runtime shows up as PORT_ADD / PORT_REMOVE
 * at the driver (after the multiport handshake Linux performs), and a changed device
 * configuration is applied.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class PortConfigurationIT extends PeridotTestSupport {

    @Test
    public void portConfigurationsAreHotPlugged() throws Exception {
        createConsole("mp0", "max.nr.ports", 4);
        MmioDeviceAccess window = window("mp0");
        try (Guest guest = guest(window, 1)) {
            List<DriverQueue> queues = guest.driver.initialize(FeatureSet.of(1, 32), 10, 32);
            ControlProtocol control = new ControlProtocol(guest.driver, queues);
            control.send(0, ControlProtocol.DEVICE_READY, 1);
            ControlProtocol.Message add0 = control.await(ControlProtocol.PORT_ADD, 0, TIMEOUT_MILLIS);
            control.send(add0.id(), ControlProtocol.PORT_READY, 1);
            control.await(ControlProtocol.CONSOLE_PORT, 0, TIMEOUT_MILLIS);
            control.send(0, ControlProtocol.PORT_OPEN, 1);

            Configuration port = createPort("mp0", "id", 2, "name", "org.itest.two");
            ControlProtocol.Message add2 = control.await(ControlProtocol.PORT_ADD, 2, TIMEOUT_MILLIS);
            control.send(add2.id(), ControlProtocol.PORT_READY, 1);
            assertEquals("org.itest.two", control.await(ControlProtocol.PORT_NAME, 2, TIMEOUT_MILLIS).name());

            port.delete();
            control.await(ControlProtocol.PORT_REMOVE, 2, TIMEOUT_MILLIS);
            assertTrue("no second PORT_ADD for port 0: " + control.pending(),
                    control.pending().stream().noneMatch(m -> m.event() == ControlProtocol.PORT_ADD));
        }
    }

    @Test
    public void aChangedDeviceConfigurationIsApplied() throws Exception {
        Configuration console = createConsole("cfg0", "cols", 80, "rows", 25);
        MmioDeviceAccess window = window("cfg0");
        try (Guest guest = guest(window, 1)) {
            guest.driver.initialize(FeatureSet.of(0, 32), 2, 32);
            assertEquals(80, guest.driver.readConfig(0, 2));
        }
        Dictionary<String, Object> props = console.getProperties();
        props.put("cols", 132);
        props.put("rows", 43);
        console.update(props);
        long deadline = System.nanoTime() + TIMEOUT_MILLIS * 1_000_000L;
        while (System.nanoTime() < deadline) {
            MmioDeviceAccess current = find(MmioDeviceAccess.class, named("cfg0"));
            if (current != null && current.read(0x100, 2) == 132) {
                break;
            }
            Thread.sleep(10);
        }
        MmioDeviceAccess current = window("cfg0");
        try (Guest guest = guest(current, 2)) {
            guest.driver.initialize(FeatureSet.of(0, 32), 2, 32);
            assertEquals(132, guest.driver.readConfig(0, 2));
            assertEquals(43, guest.driver.readConfig(2, 2));
        }
    }
}
