package dev.peridot.virtio.itests;

import static org.junit.Assert.assertTrue;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;

/** The Gogo commands, run through the CommandProcessor service, print what the device state is. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class CommandsIT extends PeridotTestSupport {

    @Test
    public void commandsShowTheDeviceState() throws Exception {
        createConsole("cmd0", "cols", 90, "rows", 30);
        MmioDeviceAccess window = window("cmd0");
        CommandProcessor processor = await(CommandProcessor.class, null);
        try (Guest guest = guest(window, 1)) {
            assertContains(run(processor, "virtio:list"), "cmd0", "INIT");
            List<DriverQueue> queues = guest.driver.initialize(FeatureSet.of(0, 29, 32), 2, 64);
            queues.get(1).addOutbound("shown by console:read".getBytes(StandardCharsets.US_ASCII));
            queues.get(1).kick();
            guest.driver.awaitCompletions(queues.get(1), 1, TIMEOUT_MILLIS);
            int slot = window.slot();
            assertContains(run(processor, "virtio:list"), slot + "", "cmd0", "console", "mmio", "0x0f", "DRIVER_OK");
            assertContains(run(processor, "virtio:status cmd0"), "● ACKNOWLEDGE", "● DRIVER_OK", "● FEATURES_OK",
                    "○ DEVICE_NEEDS_RESET", "○ FAILED", "state: DRIVER_OK");
            assertContains(run(processor, "virtio:features cmd0"), "VIRTIO_CONSOLE_F_SIZE", "VIRTIO_F_EVENT_IDX",
                    "VIRTIO_F_VERSION_1");
            assertContains(run(processor, "virtio:queues cmd0"), "READY", "yes");
            assertContains(run(processor, "virtio:config cmd0"), "cols          90", "rows          30");
            assertContains(run(processor, "virtio:interrupts"), "cmd0", "RAISED");
            assertContains(run(processor, "mmio:regs " + slot), "Status", "0x0000000f", "DeviceID", "0x00000003");
            assertContains(run(processor, "console:ports"), "cmd0", "memory");
            assertContains(run(processor, "console:read cmd0:0"), "shown by console:read");
            assertContains(run(processor, "console:resize cmd0:0 100 40"), "100x40");
            assertContains(run(processor, "virtio:config cmd0"), "cols          100");
            assertContains(run(processor, "virtio:reset cmd0"), "state INIT");
            assertContains(run(processor, "virtio:status cmd0"), "○ DRIVER_OK", "state: INIT");
        }
    }

    private static String run(CommandProcessor processor, String command) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true, StandardCharsets.UTF_8);
        CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), print, print);
        try {
            Object result = session.execute(command);
            if (result != null) {
                print.print(session.format(result, Converter.INSPECT));
            }
        } finally {
            session.close();
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static void assertContains(String output, String... parts) {
        for (String part : parts) {
            assertTrue("'" + part + "' not in:\n" + output, output.contains(part));
        }
    }
}
