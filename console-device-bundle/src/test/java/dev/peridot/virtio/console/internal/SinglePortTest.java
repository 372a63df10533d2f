package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.testkit.DriverQueue;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Port 0 without MULTIPORT: identity, features, configuration space, data both ways, hostile buffers. */
class SinglePortTest {

    static final FeatureSet SINGLE = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1, ReservedFeature.VIRTIO_F_EVENT_IDX,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ConsoleFeature.VIRTIO_CONSOLE_F_SIZE);

    private ConsoleRig rig = ConsoleRig.single();

    @AfterEach
    void close() {
        rig.close();
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Drains port 0's memory backend until {@code n} bytes arrived. */
    static byte[] readExactly(ConsoleDevice device, int port, int n) {
        byte[] out = new byte[n];
        int got = 0;
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (got < n) {
            got += device.read(port, out, got, n - got);
            if (System.nanoTime() > deadline) {
                throw new AssertionError("only " + got + " of " + n + " bytes arrived");
            }
            Thread.onSpinWait();
        }
        return out;
    }

    @Test
    @DisplayName("CON-01, CON-04: device ID 3; only bits 0-2 of the console range are offered")
    void con01Con04Identity() {
        assertThat(rig.r(DEVICE_ID)).isEqualTo(3);
        rig.window.write(DEVICE_FEATURES_SEL, 4, 0);
        int low = rig.r(DEVICE_FEATURES);
        assertThat(low & 0x00FFFFF8).isZero();
        assertThat(low & 0x7).isEqualTo(0b101); // SIZE and EMERG_WRITE; MULTIPORT only with more ports.
        rig.window.write(DEVICE_FEATURES_SEL, 4, 1);
        assertThat(rig.r(DEVICE_FEATURES) & 1).isEqualTo(1); // VERSION_1
    }

    @Test
    @DisplayName("CON-05, CON-12: cols/rows read 80x25; CFG-07/HD-48: max_nr_ports reads 0 without MULTIPORT; emerg_wr reads 0")
    void con05ConfigLayout() {
        assertThat(rig.driver.readConfig(0, 2)).isEqualTo(80);
        assertThat(rig.driver.readConfig(2, 2)).isEqualTo(25);
        assertThat(rig.driver.readConfig(0, 4)).isEqualTo(25 << 16 | 80);
        assertThat(rig.driver.readConfig(4, 4)).isZero();
        assertThat(rig.driver.readConfig(8, 4)).isZero();
        assertThat(rig.driver.readConfig(12, 4)).isZero(); // CFG-08: beyond the fields.
    }

    @Test
    @DisplayName("HD-48, CFG-07: without SIZE, cols/rows read 0; a resize changes nothing the driver sees")
    void hd48NoSize() {
        rig.close();
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withFeatures(false, true));
        assertThat(rig.driver.readConfig(0, 4)).isZero();
        assertThat(rig.driver.readConfig(1, 1)).isZero();
        int gen = rig.driver.configGeneration();
        rig.device.resize(0, 100, 50);
        assertThat(rig.driver.configGeneration()).isEqualTo(gen);
        assertThat(rig.driver.readConfig(0, 4)).isZero();
        assertThat(rig.device.port(0).orElseThrow().cols()).isEqualTo(100);
    }

    @Test
    @DisplayName("CON-03, HD-43: queues 2 and up do not exist without MULTIPORT (QueueNumMax 0, setup refused)")
    void con03NoControlQueues() {
        rig.window.write(QUEUE_SEL, 4, 2);
        assertThat(rig.r(QUEUE_NUM_MAX)).isZero();
        rig.guest.bringUp(SINGLE);
        rig.window.write(QUEUE_SEL, 4, 2);
        assertThat(rig.r(QUEUE_NUM_MAX)).isZero();
        rig.window.write(QUEUE_SEL, 4, 3);
        assertThat(rig.r(QUEUE_NUM_MAX)).isZero();
        rig.window.write(QUEUE_NOTIFY, 4, 3); // HD-43: a notification for a queue that does not exist.
        rig.window.write(QUEUE_NOTIFY, 4, 5);
        rig.guest.write(0, ascii("ok"));
        assertThat(readExactly(rig.device, 0, 2)).isEqualTo(ascii("ok"));
        assertThat(rig.r(STATUS) & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("CON-15, CON-38: guest output arrives in order; transmit buffers complete with len 0")
    void con15Transmit() {
        rig.guest.bringUp(SINGLE);
        DriverQueue tx = rig.guest.queues.get(1);
        tx.add(List.of(ascii("hel"), ascii("lo")));
        tx.addIndirect(List.of(ascii(" wor"), ascii("ld")));
        tx.kick();
        List<DriverQueue.Completion> done = rig.driver.awaitCompletions(tx, 2, 5000);
        assertThat(done).extracting(DriverQueue.Completion::length).containsOnly(0);
        assertThat(rig.device.read(0, 100)).isEqualTo(ascii("hello world"));
        assertThat(rig.device.port(0).orElseThrow().bytesFromGuest()).isEqualTo(11);
    }

    @Test
    @DisplayName("CON-16: host input arrives in order; 10 KiB over 4 KiB buffers concatenates to the input")
    void con16Receive() {
        rig.guest.bringUp(SINGLE);
        assertThat(rig.device.send(0, ascii("abc"))).isEqualTo(3);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).receivedTotal == 3, "abc");
        assertThat(rig.guest.received(0)).isEqualTo(ascii("abc"));
        byte[] big = new byte[10 * 1024];
        new Random(1).nextBytes(big);
        assertThat(rig.device.send(0, big)).isEqualTo(big.length);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).receivedTotal == 3 + big.length, "10 KiB");
        assertThat(Arrays.copyOfRange(rig.guest.received(0), 3, 3 + big.length)).isEqualTo(big);
        assertThat(rig.device.port(0).orElseThrow().bytesToGuest()).isEqualTo(3 + big.length);
    }

    @Test
    @DisplayName("CON-14: input without receive buffers is held, not written anywhere; it arrives once a buffer is posted")
    void con14HeldInput() {
        rig.guest.bringUpQueues(SINGLE, 256);
        rig.device.send(0, ascii("held"));
        rig.guest.pumpFor(50);
        assertThat(rig.device.port(0).orElseThrow().bufferedToGuest()).isEqualTo(4);
        DriverQueue rx = rig.guest.queues.get(0);
        rx.addInbound(64);
        rx.kick();
        List<DriverQueue.Completion> done = rig.driver.awaitCompletions(rx, 1, 5000);
        assertThat(done.get(0).data()).isEqualTo(ascii("held"));
    }

    @Test
    @DisplayName("CON-19, HD-25: a readable-only receive buffer comes back with len 0 and untouched; the input goes to the next one")
    void con19ReadableReceiveBuffer() {
        rig.guest.bringUpQueues(SINGLE, 256);
        DriverQueue rx = rig.guest.queues.get(0);
        rx.addOutbound(ascii("zzzz"));
        rx.addInbound(16);
        rx.kick();
        rig.device.send(0, ascii("x"));
        List<DriverQueue.Completion> done = rig.driver.awaitCompletions(rx, 2, 5000);
        assertThat(done.get(0).length()).isZero();
        assertThat(done.get(1).data()).isEqualTo(ascii("x"));
        assertThat(rig.r(STATUS) & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("CON-20, HD-25: a transmit buffer with a writable canary: the readable part is emitted, the canary is untouched")
    void con20WritableTransmitBuffer() throws Exception {
        rig.guest.bringUpQueues(SINGLE, 256);
        DriverQueue tx = rig.guest.queues.get(1);
        long canary = rig.ram.allocate(4, 8);
        rig.driver.memory().write(canary, new byte[] {1, 2, 3, 4}, 0, 4);
        long hi = rig.ram.allocate(2, 8);
        rig.driver.memory().write(hi, ascii("hi"), 0, 2);
        tx.addSegments(DriverQueue.Segment.readable(hi, 2), DriverQueue.Segment.writable(canary, 4));
        tx.kick();
        List<DriverQueue.Completion> done = rig.driver.awaitCompletions(tx, 1, 5000);
        assertThat(done.get(0).length()).isZero();
        byte[] c = new byte[4];
        rig.driver.memory().read(canary, c, 0, 4);
        assertThat(c).containsExactly(1, 2, 3, 4);
        assertThat(rig.device.read(0, 10)).isEqualTo(ascii("hi"));
    }

    @Test
    @DisplayName("INIT-07: output posted before DRIVER_OK is processed when the driver sets it")
    void init07OutputBeforeDriverOk() {
        rig.driver.probe();
        rig.driver.reset();
        rig.driver.addStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        rig.driver.negotiate(SINGLE);
        rig.driver.setupQueue(0, 64);
        DriverQueue tx = rig.driver.setupQueue(1, 64);
        tx.addOutbound(ascii("early"));
        tx.kick();
        rig.driver.driverOk();
        rig.driver.awaitCompletions(tx, 1, 5000);
        assertThat(rig.device.read(0, 10)).isEqualTo(ascii("early"));
    }
}
