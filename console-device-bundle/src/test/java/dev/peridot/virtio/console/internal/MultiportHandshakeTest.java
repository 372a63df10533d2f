package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.console.internal.ConsoleDevice.*;
import static dev.peridot.virtio.console.internal.SinglePortTest.ascii;
import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The multiport control protocol (spec 5.3.6.2) as Linux drives it, and a hostile driver's variants. */
class MultiportHandshakeTest {

    private ConsoleRig rig = ConsoleRig.multiport(4);

    @AfterEach
    void close() {
        rig.close();
    }

    private void twoNamedPorts() {
        rig.device.addPort(PortSpec.memory(1, "org.test.1", false));
        rig.device.addPort(PortSpec.memory(2, "org.test.2", false));
    }

    private void assertHealthy() {
        assertThat(rig.driver.status() & DeviceStatus.DEVICE_NEEDS_RESET).as("DEVICE_NEEDS_RESET").isZero();
    }

    /** CON-30, CON-31, CON-36: every ADD names a port that is not live; REMOVE and per-port messages only for live ports. */
    static void assertLogInvariants(List<ConsoleGuest.Message> log, int maxPorts) {
        Set<Integer> live = new HashSet<>();
        for (ConsoleGuest.Message m : log) {
            assertThat(Integer.toUnsignedLong(m.id())).as("id of %s", m).isLessThan(maxPorts);
            switch (m.event()) {
                case DEVICE_ADD -> assertThat(live.add(m.id())).as("ADD of a live port %s", m).isTrue();
                case DEVICE_REMOVE -> assertThat(live.remove(m.id())).as("REMOVE of a port not added %s", m).isTrue();
                default -> assertThat(live).as("message for a port not added %s", m).contains(m.id());
            }
        }
    }

    @Test
    @DisplayName("CON-02: with MULTIPORT and N ports, queues 0..2N+1 exist and 2N+2 does not")
    void con02QueueMap() {
        assertThat(rig.driver.readConfig(4, 4)).isEqualTo(4); // CON-05, CON-06
        for (int q = 0; q < 10; q++) {
            rig.window.write(QUEUE_SEL, 4, q);
            assertThat(rig.r(QUEUE_NUM_MAX)).as("queue %d", q).isEqualTo(256);
        }
        rig.window.write(QUEUE_SEL, 4, 10);
        assertThat(rig.r(QUEUE_NUM_MAX)).isZero();
        assertThat(ConsoleDevice.receiveQueue(3)).isEqualTo(8);
        assertThat(ConsoleDevice.transmitQueue(3)).isEqualTo(9);
    }

    @Test
    @DisplayName("CON-03: MULTIPORT offered but not negotiated: queues 2+ read QueueNumMax 0 after FEATURES_OK; port 0 works alone")
    void con03NotNegotiated() {
        rig.guest.bringUp(SinglePortTest.SINGLE);
        assertThat(rig.guest.multiport).isFalse();
        rig.window.write(QUEUE_SEL, 4, 2);
        assertThat(rig.r(QUEUE_NUM_MAX)).isZero();
        rig.guest.write(0, ascii("solo"));
        assertThat(SinglePortTest.readExactly(rig.device, 0, 4)).isEqualTo(ascii("solo"));
        assertThat(rig.device.port(0).orElseThrow().ready()).isTrue();
    }

    @Test
    @DisplayName("CON-13, CON-21..CON-29: the full handshake as Linux performs it: console port 0 and two named ports")
    void linuxHandshake() {
        twoNamedPorts();
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> rig.guest.ports.size() == 3 && rig.guest.ports.values().stream().allMatch(p -> p.hostOpen)
                && rig.device.port(0).orElseThrow().guestOpen(), "handshake");
        List<ConsoleGuest.Message> log = rig.guest.log;
        // PORT_ADD for every port, each once, first.
        assertThat(log.subList(0, 3)).extracting(ConsoleGuest.Message::event).containsOnly(DEVICE_ADD);
        assertThat(log.subList(0, 3)).extracting(ConsoleGuest.Message::id).containsExactly(0, 1, 2);
        // Port 0: CONSOLE_PORT(1) (CON-26), RESIZE (CON-27), PORT_OPEN(1) (CON-28), in that order.
        assertThat(rig.guest.log.stream().filter(m -> m.id() == 0).map(ConsoleGuest.Message::event).toList())
                .containsExactly(DEVICE_ADD, CONSOLE_PORT, RESIZE, PORT_OPEN);
        assertThat(rig.guest.messages(0, CONSOLE_PORT).get(0).value()).isEqualTo(1);
        // Named ports: PORT_NAME (CON-29: len 8 + name, no NUL), then PORT_OPEN(1).
        for (int id = 1; id <= 2; id++) {
            int pid = id;
            assertThat(rig.guest.log.stream().filter(m -> m.id() == pid).map(ConsoleGuest.Message::event).toList())
                    .containsExactly(DEVICE_ADD, PORT_NAME, PORT_OPEN);
            ConsoleGuest.Message name = rig.guest.messages(id, PORT_NAME).get(0);
            assertThat(name.payload()).isEqualTo(("org.test." + id).getBytes(StandardCharsets.UTF_8));
            assertThat(rig.guest.ports.get(id).name).isEqualTo("org.test." + id);
            assertThat(rig.guest.ports.get(id).console).isFalse();
        }
        assertLogInvariants(log, 4);
        PortInfo p0 = rig.device.port(0).orElseThrow();
        assertThat(p0.announced()).isTrue();
        assertThat(p0.ready()).isTrue();
        assertThat(p0.guestOpen()).isTrue();
        assertThat(p0.hostOpen()).isTrue();
        PortInfo p1 = rig.device.port(1).orElseThrow();
        assertThat(p1.ready()).isTrue();
        assertThat(p1.guestOpen()).isFalse(); // Nobody opened /dev/vport0p1 yet.
        // Data: port 0 both ways; port 1 after the guest opens it (input waits until then, CON-33).
        rig.device.send(1, ascii("to port 1"));
        rig.guest.write(0, ascii("hvc0 says hi"));
        rig.guest.write(1, ascii("p1 out"));
        assertThat(SinglePortTest.readExactly(rig.device, 0, 12)).isEqualTo(ascii("hvc0 says hi"));
        assertThat(SinglePortTest.readExactly(rig.device, 1, 6)).isEqualTo(ascii("p1 out"));
        rig.guest.pumpFor(20);
        assertThat(rig.guest.ports.get(1).receivedTotal).isZero();
        rig.guest.open(1);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(1).receivedTotal == 9, "port 1 input");
        assertThat(rig.guest.received(1)).isEqualTo(ascii("to port 1"));
        assertThat(rig.device.port(1).orElseThrow().guestOpen()).isTrue();
        rig.guest.sendControl(1, PORT_OPEN, 0);
        rig.guest.awaitUntil(() -> !rig.device.port(1).orElseThrow().guestOpen(), "guest close");
        assertHealthy();
        assertThat(rig.device.malformedControlMessages()).isZero();
    }

    @Test
    @DisplayName("CON-13, CON-32: no control message before DEVICE_READY, even with control buffers posted")
    void con13NothingBeforeDeviceReady() {
        twoNamedPorts();
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 256);
        rig.guest.fillControl();
        rig.guest.pumpFor(50);
        assertThat(rig.guest.log).isEmpty();
        assertThat(rig.device.port(1).orElseThrow().announced()).isFalse();
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        rig.guest.awaitPorts(0, 1, 2);
        assertHealthy();
    }

    @Test
    @DisplayName("CON-22, CON-30, HD-45: DEVICE_READY twice adds each port once; DEVICE_READY(0) adds nothing, a later (1) does")
    void con22RepeatedDeviceReady() {
        twoNamedPorts();
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 256);
        rig.guest.fillControl();
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 0);
        rig.guest.pumpFor(30);
        assertThat(rig.guest.log).isEmpty();
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        rig.guest.awaitPorts(0, 1, 2);
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        rig.guest.sendControl(0, DEVICE_READY, 1);
        rig.guest.pumpFor(50);
        assertThat(rig.guest.messages(DEVICE_ADD)).hasSize(3);
        assertLogInvariants(rig.guest.log, 4);
        assertHealthy();
    }

    @Test
    @DisplayName("CON-35: DEVICE_READY without control buffers: the PORT_ADDs wait and arrive when buffers are posted")
    void con35MessagesWaitForBuffers() {
        twoNamedPorts();
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 256);
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        rig.guest.awaitUntil(() -> rig.device.pendingControlMessages() == 3, "3 pending ADDs");
        rig.guest.fillControl();
        rig.guest.awaitPorts(0, 1, 2);
        assertThat(rig.guest.messages(DEVICE_ADD)).extracting(ConsoleGuest.Message::id).containsExactly(0, 1, 2);
    }

    @Test
    @DisplayName("HD-41, CON-35: a too-small control buffer is returned with len 0; a long PORT_NAME is truncated at a UTF-8 boundary")
    void hd41SmallControlBuffers() {
        String name = "port-\u00e9\u00e9\u00e9\u00e9"; // 5 ASCII + 4 two-byte chars = 13 bytes
        rig.device.addPort(PortSpec.memory(1, name, false));
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 256);
        DriverQueue crx = rig.guest.queues.get(CONTROL_RX);
        crx.addInbound(4); // too small for a header
        crx.addInbound(8); // ADD 0
        crx.addInbound(8); // ADD 1
        crx.kick();
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        List<DriverQueue.Completion> done = rig.driver.awaitCompletions(crx, 3, 5000);
        assertThat(done.get(0).length()).isZero();
        assertThat(done.get(1).length()).isEqualTo(8);
        assertThat(done.get(2).length()).isEqualTo(8);
        rig.guest.sendControl(1, PORT_READY, 1);
        crx.addInbound(16); // 8 + 8 of the 13-byte name: cut before the split 2-byte character
        crx.kick();
        done = rig.driver.awaitCompletions(crx, 1, 5000);
        byte[] msg = done.get(0).data();
        assertThat(msg.length).isEqualTo(15);
        ByteBuffer b = ByteBuffer.wrap(msg).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getInt()).isEqualTo(1);
        assertThat(b.getShort()).isEqualTo((short) PORT_NAME);
        assertThat(new String(msg, 8, 7, StandardCharsets.UTF_8)).isEqualTo("port-\u00e9");
        assertHealthy();
    }

    @Test
    @DisplayName("HD-41: a control buffer too small for RESIZE's payload is returned with len 0 and the RESIZE waits for a big enough one (fuzz-tests finding)")
    void hd41ResizeIsNeverCutShort() {
        // Found by fuzz-tests (ConsoleFuzzTest, input resize-cut-short-into-a-9-byte-control-buffer): the 12-byte
        // RESIZE went into a 9-byte buffer as a 9-byte message, and Linux reads cols/rows without checking the length.
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 256);
        DriverQueue crx = rig.guest.queues.get(CONTROL_RX);
        crx.addInbound(8); // ADD 0
        crx.kick();
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        assertThat(rig.driver.awaitCompletions(crx, 1, 5000).get(0).length()).isEqualTo(8);
        crx.addInbound(8); // CONSOLE_PORT
        crx.addInbound(9); // too small for RESIZE (8 + 4)
        crx.addInbound(12); // RESIZE
        crx.kick();
        rig.guest.sendControl(0, PORT_READY, 1);
        List<DriverQueue.Completion> done = rig.driver.awaitCompletions(crx, 3, 5000);
        assertThat(done).extracting(DriverQueue.Completion::length).containsExactly(8, 0, 12);
        ByteBuffer b = ByteBuffer.wrap(done.get(2).data()).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.getInt(0)).isZero();
        assertThat(b.getShort(4)).isEqualTo((short) RESIZE);
        assertThat(b.getShort(8)).isEqualTo((short) 80);
        assertThat(b.getShort(10)).isEqualTo((short) 25);
        assertHealthy();
    }

    @Test
    @DisplayName("CON-34, HD-40, HD-42: malformed driver messages are ignored and completed; later traffic works")
    void con34MalformedMessages() {
        twoNamedPorts();
        rig.guest.answerPortReady = false;
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0, 1, 2);
        long before = rig.device.malformedControlMessages();
        rig.guest.sendControlRaw(new byte[] {1, 0, 0, 0}); // shorter than 8
        rig.guest.sendControl(1, 8, 1); // unknown event
        rig.guest.sendControl(1, 0xFFFF, 1);
        for (int deviceOnly : new int[] {DEVICE_ADD, DEVICE_REMOVE, CONSOLE_PORT, RESIZE, PORT_NAME}) {
            rig.guest.sendControl(1, deviceOnly, 1);
        }
        rig.guest.sendControl(4, PORT_READY, 1); // id = max_nr_ports
        rig.guest.sendControl(0xFFFFFFFF, PORT_READY, 1); // HD-40
        rig.guest.sendControl(3, PORT_READY, 1); // HD-42: never added
        rig.guest.sendControl(1, PORT_OPEN, 1); // not ready yet
        rig.guest.sendControl(1, PORT_READY, 2); // value neither 0 nor 1
        DriverQueue ctx = rig.guest.queues.get(CONTROL_TX);
        rig.guest.awaitUntil(() -> rig.device.malformedControlMessages() - before == 13 && ctx.inFlight() == 0,
                "13 malformed messages completed");
        assertThat(rig.device.port(1).orElseThrow().ready()).isFalse();
        assertThat(rig.guest.messages(1, PORT_NAME)).isEmpty();
        // Valid traffic still works; then a repeated PORT_READY and a bad PORT_OPEN value are ignored.
        rig.guest.sendControl(1, PORT_READY, 1);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(1).hostOpen, "port 1 ready");
        rig.guest.sendControl(1, PORT_READY, 1);
        rig.guest.sendControl(1, PORT_OPEN, 7);
        rig.guest.awaitUntil(() -> rig.device.malformedControlMessages() - before == 15, "2 more malformed");
        assertThat(rig.guest.messages(1, PORT_NAME)).hasSize(1);
        assertThat(rig.device.port(1).orElseThrow().guestOpen()).isFalse();
        assertLogInvariants(rig.guest.log, 4);
        assertHealthy();
    }

    @Test
    @DisplayName("CON-39: a control message split over two descriptors is processed")
    void con39SplitControlMessage() {
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 256);
        rig.guest.fillControl();
        DriverQueue ctx = rig.guest.queues.get(CONTROL_TX);
        ctx.add(List.of(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF}, new byte[] {(byte) 0xFF, 0, 0, 1, 0}));
        ctx.kick();
        rig.guest.awaitPorts(0);
    }

    @Test
    @DisplayName("CON-25, CON-37: PORT_READY(0) marks the port unusable: no details, its receive buffers are never written")
    void con25RefusedPort() {
        twoNamedPorts();
        rig.guest.answerPortReady = false;
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0, 1, 2);
        rig.guest.sendControl(0, PORT_READY, 1);
        rig.guest.sendControl(1, PORT_READY, 0);
        rig.guest.sendControl(2, PORT_READY, 1);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(2).hostOpen, "port 2 ready");
        rig.device.send(1, ascii("nope"));
        rig.guest.sendControl(1, PORT_OPEN, 1); // ignored: the port is not ready
        rig.guest.write(1, ascii("ignored"));
        rig.guest.pumpFor(50);
        assertThat(rig.guest.log.stream().filter(m -> m.id() == 1).map(ConsoleGuest.Message::event).toList())
                .containsExactly(DEVICE_ADD);
        assertThat(rig.guest.ports.get(1).receivedTotal).isZero();
        assertThat(rig.device.port(1).orElseThrow().bytesFromGuest()).isZero();
        assertThat(rig.device.port(1).orElseThrow().bufferedToGuest()).isEqualTo(4); // kept, never written
        assertThat(rig.guest.queues.get(ConsoleDevice.transmitQueue(1)).inFlight()).isEqualTo(1); // left in the ring
        assertHealthy();
    }

    @Test
    @DisplayName("CON-33: the driver never answers CONSOLE_PORT with PORT_OPEN: no error, input waits, and flows once it does")
    void con33MissingPortOpen() {
        rig.guest.answerConsolePort = false;
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> !rig.guest.messages(0, PORT_OPEN).isEmpty(), "port 0 set up");
        rig.device.send(0, ascii("waiting"));
        rig.guest.pumpFor(50);
        assertThat(rig.guest.ports.get(0).receivedTotal).isZero();
        assertHealthy();
        rig.guest.open(0);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).receivedTotal == 7, "input after PORT_OPEN");
        assertThat(rig.guest.received(0)).isEqualTo(ascii("waiting"));
    }

    @Test
    @DisplayName("CON-18, CON-24, CON-30, CON-31: hot-plug and unplug; ids >= max_nr_ports and duplicates are refused; a port removed before DEVICE_READY is never announced")
    void con18HotPlug() {
        rig.device.addPort(PortSpec.memory(3, "early", false));
        assertThat(rig.device.removePort(3)).isTrue();
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0);
        rig.guest.pumpFor(20);
        assertThat(rig.guest.log).noneMatch(m -> m.id() == 3);
        assertThatThrownBy(() -> rig.device.addPort(PortSpec.memory(4, "", false))).isInstanceOf(IllegalArgumentException.class);
        int id = rig.device.addPort(PortSpec.memory(PortSpec.AUTO_ID, "hot", false));
        assertThat(id).isEqualTo(1);
        assertThatThrownBy(() -> rig.device.addPort(PortSpec.memory(1, "", false))).isInstanceOf(IllegalStateException.class);
        rig.guest.awaitUntil(() -> rig.guest.ports.containsKey(1) && "hot".equals(rig.guest.ports.get(1).name), "hot-plug");
        rig.device.removePort(1);
        rig.guest.awaitUntil(() -> !rig.guest.ports.containsKey(1), "unplug");
        rig.device.addPort(PortSpec.memory(1, "again", false));
        rig.guest.awaitUntil(() -> rig.guest.ports.containsKey(1) && "again".equals(rig.guest.ports.get(1).name), "re-plug");
        assertThat(rig.guest.messages(1, DEVICE_ADD)).hasSize(2);
        assertThat(rig.guest.messages(1, DEVICE_REMOVE)).hasSize(1);
        assertLogInvariants(rig.guest.log, 4);
        assertThat(rig.device.removePort(2)).isFalse();
        assertHealthy();
    }

    @Test
    @DisplayName("CON-18: Linux's unplug takes back the port's unused buffers (avail.idx moves back); the same id plugged in again receives into its new buffers only")
    void unplugTakesBuffersBackThenTheSameIdComesAgain() {
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.device.addPort(PortSpec.memory(1, "data", false));
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().ready(), "port 1 ready");
        rig.guest.open(1);
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().guestOpen(), "port 1 open");
        DriverQueue rx = rig.guest.queues.get(receiveQueue(1));
        int posted = rx.inFlight();
        assertThat(posted).isGreaterThan(4);
        // Two receive buffers used: the device has read an avail.idx that counts all the posted ones.
        rig.device.send(1, pattern(5000, 1));
        rig.guest.awaitUntil(() -> rig.guest.ports.get(1).receivedTotal == 5000, "first input");
        int usedBefore = rx.usedIdx();
        rig.device.removePort(1);
        rig.guest.awaitUntil(() -> !rig.guest.ports.containsKey(1), "unplug");
        assertThat(rx.inFlight()).as("every unused buffer taken back").isZero();
        assertThat(rx.availIdx()).as("avail.idx moved back to what the device used").isEqualTo(usedBefore);

        rig.guest.receiveBuffers = 1; // fewer than the device once saw: stale entries would now be popped
        rig.device.addPort(PortSpec.memory(1, "data", false));
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().ready(), "port 1 ready again");
        rig.guest.open(1);
        rig.guest.awaitUntil(() -> rig.device.port(1).orElseThrow().guestOpen(), "port 1 open again");
        byte[] second = pattern(3 * 4096, 2);
        rig.device.send(1, second);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(1).receivedTotal == second.length, "second input, one buffer at a time");
        assertThat(rig.guest.received(1)).isEqualTo(second);
        assertHealthy();
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    @DisplayName("CON-31: a port added and removed while its PORT_ADD still waits for a buffer is never announced nor removed")
    void con31CancelledAdd() {
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().guestOpen(), "port 0");
        rig.guest.pumpFor(20);
        // Take away the control buffers: the driver posts none for a while.
        rig.guest.controlBuffers = 0;
        DriverQueue crx = rig.guest.queues.get(CONTROL_RX);
        while (crx.inFlight() > 0) {
            // Consume the posted buffers with resizes of port 0 (each needs a buffer).
            rig.device.resize(0, 81 + crx.inFlight(), 25);
            rig.driver.awaitCompletions(crx, 1, 5000);
        }
        rig.device.addPort(PortSpec.memory(2, "ghost", false));
        rig.guest.pumpFor(20);
        rig.device.removePort(2);
        rig.guest.pumpFor(20);
        crx.addInbound(4096);
        crx.addInbound(4096);
        crx.kick();
        rig.guest.pumpFor(50);
        assertThat(rig.guest.log).noneMatch(m -> m.id() == 2);
        assertLogInvariants(rig.guest.log, 4);
    }

    @Test
    @DisplayName("HD-46: a driver that never posts control buffers: pending messages stay bounded (coalesced) and arrive coherently later")
    void hd46BoundedControlQueue() {
        rig.close();
        rig = ConsoleRig.multiport(32);
        rig.guest.bringUpQueues(ConsoleGuest.LINUX_FEATURES, 64);
        rig.guest.fillControl(); // 8 buffers, enough for the first ADDs
        rig.guest.sendControl(ConsoleGuest.BAD_ID, DEVICE_READY, 1);
        rig.guest.awaitPorts(0);
        DriverQueue crx = rig.guest.queues.get(CONTROL_RX);
        rig.guest.controlBuffers = 0;
        // Now the guest stops posting control buffers; the host keeps changing things.
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().ready(), "port 0 ready");
        for (int round = 0; round < 50; round++) {
            for (int id = 1; id < 32; id++) {
                rig.device.addPort(PortSpec.memory(id, "p" + id, true));
            }
            for (int i = 0; i < 100; i++) {
                rig.device.resize(0, 80 + i, 25);
            }
            for (int id = 1; id < 32; id++) {
                rig.device.removePort(id);
            }
            assertThat(rig.device.pendingControlMessages()).isLessThanOrEqualTo(6 * 32);
        }
        for (int id = 1; id < 32; id++) {
            rig.device.addPort(PortSpec.memory(id, "p" + id, false));
        }
        rig.device.resize(0, 100, 40);
        rig.guest.awaitUntil(() -> rig.device.pendingControlMessages() > 0, "pending");
        assertThat(rig.device.pendingControlMessages()).isLessThanOrEqualTo(MAX_PENDING_CONTROL);
        assertThat(rig.device.droppedControlMessages()).isZero();
        // Post buffers again: everything arrives, consistently.
        rig.guest.controlBuffers = 8;
        rig.guest.fillControl();
        rig.guest.awaitUntil(() -> rig.guest.ports.size() == 32 && rig.guest.ports.get(0).resizeA == 100, "all ports", 20_000);
        assertLogInvariants(rig.guest.log, 32);
        assertHealthy();
    }

    @Test
    @DisplayName("HD-43: a driver that negotiates MULTIPORT but uses a data queue of a port never added: the buffers stay untouched")
    void hd43UnknownPortQueue() {
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0);
        DriverQueue tx3 = rig.guest.queues.get(ConsoleDevice.transmitQueue(3));
        tx3.addOutbound(ascii("lost?"));
        tx3.kick();
        DriverQueue rx3 = rig.guest.queues.get(ConsoleDevice.receiveQueue(3));
        rx3.addInbound(16);
        rx3.kick();
        rig.guest.pumpFor(30);
        assertThat(tx3.inFlight()).isEqualTo(1);
        assertThat(rx3.inFlight()).isEqualTo(1);
        assertHealthy();
    }

    @Test
    @DisplayName("FeatureSet of a Linux guest negotiates SIZE and MULTIPORT but not EMERG_WRITE")
    void linuxFeatures() {
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        FeatureSet negotiated = rig.device.negotiatedFeatures();
        assertThat(negotiated.contains(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT)).isTrue();
        assertThat(negotiated.contains(ConsoleFeature.VIRTIO_CONSOLE_F_EMERG_WRITE)).isFalse();
    }
}
