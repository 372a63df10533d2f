package dev.peridot.virtio.testkit;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.testkit.support.MmioRig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Replays the register sequence Linux 6.1's virtio_mmio and virtio_console performed against
 * QEMU's console (../shared/reference/qemu/traces/trace_modern_p1_ioefdoff.decoded.txt, copied
 * into the test resources): probe, reset, features, queue setup, DRIVER_OK, transmissions with
 * interrupts, unbind with reset, rebind. Every read must return what the trace shows — the
 * test device offers the same features and reports QEMU's vendor ID, so the comparison is exact.
 *
 * <p>Ring addresses are remapped into the test's RAM (+0x40000000). Where the guest filled a
 * buffer before a QueueNotify, the replay does the same (the transmitted text of the reference
 * run, whose lengths the trace shows); where the guest read InterruptStatus in its interrupt
 * handler, the replay waits for the interrupt line first.
 */
class LinuxTraceReplayTest {

    private static final Pattern ACCESS = Pattern.compile(
            "slot23 ([RW]) (\\d) 0x([0-9a-f]{3}) (\\S+)\\s+(->|<-) 0x([0-9a-f]{8})");
    private static final Pattern FLUSH = Pattern.compile("virtio_console_flush_buf port 0, in_len (\\d+)");
    private static final long REMAP = MmioRig.RAM_BASE;
    private static final int QEMU_VENDOR = 0x554d4551;
    /** What the guest wrote to hvc0 in the reference run, one entry per transmit notification. */
    private static final String[] GUEST_OUTPUT = {"HVC_READY\n", "TX1 hello from guest\n", "TX2 after rebind", "\r\n"};

    private record Access(boolean read, int width, int offset, String name, int value, int flushLength) {
    }

    private static List<Access> loadTrace() throws IOException {
        List<Access> accesses = new ArrayList<>();
        try (InputStream in = LinuxTraceReplayTest.class.getResourceAsStream("/reference/trace_modern_p1_ioefdoff.decoded.txt");
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                Matcher m = ACCESS.matcher(line);
                if (m.find()) {
                    accesses.add(new Access(m.group(1).equals("R"), Integer.parseInt(m.group(2)),
                            Integer.parseInt(m.group(3), 16), m.group(4), (int) Long.parseLong(m.group(6), 16), -1));
                    continue;
                }
                Matcher f = FLUSH.matcher(line);
                if (f.find() && !accesses.isEmpty()) {
                    // The device consumed a transmit buffer of this length for the preceding QueueNotify.
                    for (int i = accesses.size() - 1; i >= 0; i--) {
                        Access a = accesses.get(i);
                        if (!a.read() && a.offset() == QUEUE_NOTIFY) {
                            accesses.set(i, new Access(a.read(), a.width(), a.offset(), a.name(), a.value(),
                                    Integer.parseInt(f.group(1))));
                            break;
                        }
                    }
                }
            }
        }
        return accesses;
    }

    @Test
    @DisplayName("the Linux 6.1 register sequence (probe, init, I/O, unbind, rebind) reads exactly as from a correct device")
    void replayReferenceTrace() throws Exception {
        List<Access> trace = loadTrace();
        assertThat(trace).hasSizeGreaterThan(100);
        try (MmioRig rig = new MmioRig()) {
            rig.device.setVendorId(QEMU_VENDOR);
            Deque<String> output = new ArrayDeque<>(List.of(GUEST_OUTPUT));
            StringBuilder sent = new StringBuilder();
            int queueSel = 0;
            boolean eventIdx = false;
            int[] num = new int[2];
            long[][] areas = new long[2][3];
            int step = 0;
            for (Access a : trace) {
                step++;
                if (a.read()) {
                    if (a.offset() == INTERRUPT_STATUS && a.value() != 0) {
                        assertThat(rig.driver.awaitInterrupt(5000)).as("step %d: interrupt before %s", step, a.name()).isTrue();
                    }
                    int got = rig.window.read(a.offset(), a.width());
                    assertThat(got).as("step %d: R %s (0x%03x)", step, a.name(), a.offset()).isEqualTo(a.value());
                    continue;
                }
                int value = a.value();
                switch (a.offset()) {
                    case DRIVER_FEATURES -> eventIdx |= (value & (1 << 29)) != 0;
                    case QUEUE_SEL -> queueSel = value;
                    case QUEUE_NUM -> num[queueSel] = value;
                    case QUEUE_DESC_LOW, QUEUE_DRIVER_LOW, QUEUE_DEVICE_LOW -> {
                        value = (int) (REMAP + (value & 0xFFFF_FFFFL));
                        areas[queueSel][(a.offset() - QUEUE_DESC_LOW) / 0x10] = value & 0xFFFF_FFFFL;
                    }
                    case QUEUE_READY -> {
                        if (value == 1) {
                            prepareRing(rig, queueSel, num[queueSel], areas[queueSel], eventIdx);
                        }
                    }
                    case QUEUE_NOTIFY -> {
                        if (value == 1) {
                            String text = output.poll();
                            assertThat(text).as("step %d: more transmissions than the reference run", step).isNotNull();
                            assertThat(text.length()).as("the trace's flush length").isEqualTo(a.flushLength());
                            rig.driver.queue(1).addOutbound(text.getBytes(StandardCharsets.US_ASCII));
                            sent.append(text);
                        } else if (value == 0) {
                            rig.driver.queue(0).addInbound(4096);
                        }
                    }
                    default -> {
                    }
                }
                rig.window.write(a.offset(), a.width(), value);
                if (a.offset() == QUEUE_NOTIFY && value == 1) {
                    awaitOutput(rig, sent.length());
                }
                if (a.offset() == INTERRUPT_ACK) {
                    // Linux's vring_interrupt runs the queue callbacks, which take the used buffers
                    // and, with EVENT_IDX, move used_event on: the next completion interrupts again.
                    for (int q = 0; q < 2; q++) {
                        if (rig.driver.queue(q) != null) {
                            rig.driver.queue(q).harvest();
                        }
                    }
                }
            }
            assertThat(output).as("every transmission of the reference run was replayed").isEmpty();
            assertThat(new String(rig.device.output(), StandardCharsets.US_ASCII)).isEqualTo(sent.toString());
            assertThat(rig.window.statistics().invalidAccesses()).isZero();
        }
    }

    /** Zeroes the ring as Linux allocates it, and gives the driver a view of it for posting buffers. */
    private static void prepareRing(MmioRig rig, int queue, int size, long[] areas, boolean eventIdx)
            throws GuestMemoryException {
        long usedEnd = areas[2] + 6 + 8L * size;
        int length = (int) (usedEnd - areas[0]);
        rig.driver.memory().write(areas[0], new byte[length], 0, length);
        rig.driver.attachQueue(queue, size, areas[0], areas[1], areas[2], eventIdx);
    }

    private static void awaitOutput(MmioRig rig, int length) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (rig.device.output().length < length) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the device did not transmit in time");
            }
            Thread.onSpinWait();
        }
    }
}
