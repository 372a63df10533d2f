package dev.peridot.virtio.testkit;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.support.ConsoleShapedDevice;
import dev.peridot.virtio.testkit.support.MmioRig;
import dev.peridot.virtio.transport.mmio.DriverNotificationSink;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The test kit as a device author uses it: bring-up, data both ways, interrupts, unbind and rebind. */
class DriverKitTest {

    private static final FeatureSet F0 = FeatureSet.of(32);
    private final MmioRig rig = new MmioRig();

    @AfterEach
    void close() {
        rig.close();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    @DisplayName("initialize, transmit and receive, with used lengths and data")
    void dataBothWays() {
        List<DriverQueue> queues = rig.driver.initialize(ConsoleShapedDevice.TRACE_FEATURES, 2, 64);
        assertThat(rig.driver.negotiatedFeatures()).isEqualTo(ConsoleShapedDevice.TRACE_FEATURES);
        DriverQueue rx = queues.get(0);
        DriverQueue tx = queues.get(1);
        rx.addInbound(4);
        rx.addInbound(4);
        rx.kick();
        tx.add(List.of(ascii("hel"), ascii("lo")));
        tx.addIndirect(List.of(ascii(" wor"), ascii("ld")));
        tx.kick();
        List<DriverQueue.Completion> sent = rig.driver.awaitCompletions(tx, 2, 5000);
        assertThat(sent).extracting(DriverQueue.Completion::length).containsOnly(0);
        assertThat(new String(rig.device.output(), StandardCharsets.US_ASCII)).isEqualTo("hello world");
        rig.device.inject(ascii("abcdef"));
        List<DriverQueue.Completion> received = rig.driver.awaitCompletions(rx, 2, 5000);
        assertThat(received.get(0).data()).isEqualTo(ascii("abcd"));
        assertThat(received.get(1).data()).isEqualTo(ascii("ef"));
        assertThat(rx.inFlight()).isZero();
        assertThat(tx.inFlight()).isZero();
    }

    @Test
    @DisplayName("EVENT_IDX on both sides: the driver kicks only when the device asked for it, nothing is stranded")
    void eventIdxBothWays() {
        List<DriverQueue> queues = rig.driver.initialize(FeatureSet.of(29, 32), 2, 8);
        DriverQueue tx = queues.get(1);
        int kicks = 0;
        for (int i = 0; i < 500; i++) {
            while (tx.inFlight() >= 8) {
                rig.driver.awaitCompletions(tx, 1, 5000);
            }
            tx.addOutbound(new byte[] {(byte) i});
            if (tx.kick()) {
                kicks++;
            }
        }
        while (tx.inFlight() > 0) {
            rig.driver.awaitCompletions(tx, 1, 5000);
        }
        assertThat(rig.device.output()).hasSize(500);
        assertThat(kicks).isPositive().isLessThanOrEqualTo(500);
    }

    @Test
    @DisplayName("unbind as Linux does (reset, QueueReady=0, read back), then rebind with new rings")
    void unbindAndRebind() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        queues.get(1).addOutbound(ascii("one "));
        queues.get(1).kick();
        rig.driver.awaitCompletions(queues.get(1), 1, 5000);
        long before = rig.ram.allocatedBytes();
        rig.driver.unbind();
        assertThat(rig.r(STATUS)).isZero();
        assertThat(rig.ram.allocatedBytes()).isLessThan(before);
        rig.driver.addStatus(1);
        assertThat(rig.r(STATUS)).isEqualTo(1);
        List<DriverQueue> again = rig.driver.initialize(F0, 2, 8);
        again.get(1).addOutbound(ascii("two"));
        again.get(1).kick();
        rig.driver.awaitCompletions(again.get(1), 1, 5000);
        assertThat(new String(rig.device.output(), StandardCharsets.US_ASCII)).isEqualTo("one two");
    }

    @Test
    @DisplayName("the kit refuses a non-virtio slot and reports refused features")
    void driverErrors() {
        VirtioMmioDriver empty = new VirtioMmioDriver(rig.machine.slot(3), rig.ram);
        assertThatThrownBy(() -> empty.initialize(F0, 1, 8)).isInstanceOf(DriverException.class)
                .hasMessageContaining("not a virtio");
        assertThatThrownBy(() -> rig.driver.initialize(FeatureSet.EMPTY, 2, 8)).isInstanceOf(DriverException.class);
    }

    @Test
    @DisplayName("whiteboard: a sink added later receives the next interrupt; a removed one receives nothing more")
    void sinksComeAndGo() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        AtomicInteger late = new AtomicInteger();
        AtomicInteger other = new AtomicInteger();
        DriverNotificationSink lateSink = (slot, irq, asserted, status) -> {
            if (asserted) {
                late.incrementAndGet();
            }
        };
        rig.machine.addSink(lateSink, null, "console0");
        rig.machine.addSink((slot, irq, asserted, status) -> other.incrementAndGet(), 7, null);
        sendAndAcknowledge(queues.get(1), 1);
        assertThat(late.get()).isEqualTo(1);
        rig.machine.removeSink(lateSink);
        sendAndAcknowledge(queues.get(1), 2);
        assertThat(late.get()).isEqualTo(1);
        assertThat(other.get()).as("a sink for another slot").isZero();
        assertThat(rig.driver.interruptCount()).isEqualTo(2);
    }

    /**
     * Sends one byte and handles its interrupt like Linux (wait for the line, read
     * InterruptStatus, acknowledge): the device publishes used entries before it raises the
     * line, so a harvest alone can come before the sinks were called.
     */
    private void sendAndAcknowledge(DriverQueue tx, int value) {
        long before = rig.driver.interruptCount();
        tx.addOutbound(new byte[] {(byte) value});
        tx.kick();
        rig.driver.awaitCompletions(tx, 1, 5000);
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (rig.driver.interruptCount() == before && System.nanoTime() < deadline) {
            LockSupport.parkNanos(100_000); // The line is raised just after the used index moves.
        }
        assertThat(rig.driver.interruptCount()).isEqualTo(before + 1);
        while (rig.window.interruptAsserted()) {
            rig.driver.handleInterrupt();
        }
    }

    @Test
    @DisplayName("a failing sink does not stop interrupt delivery to others")
    void failingSink() {
        rig.machine.addSink((slot, irq, asserted, status) -> {
            throw new IllegalStateException("broken sink");
        }, 0, null);
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        sendAndAcknowledge(queues.get(1), 1);
        assertThat(rig.driver.interruptCount()).isEqualTo(1);
    }

    @Test
    @DisplayName("slots are stable per name: an unbound device's window reads DeviceID 0, and it comes back to its slot")
    void slotBindingIsStable() {
        rig.machine.assign("fixed", 9);
        MmioDeviceAccess fixed = rig.machine.bind(new ConsoleShapedDevice("fixed"));
        assertThat(fixed.slot()).isEqualTo(9);
        assertThat(fixed.irq()).isEqualTo(5 + 9);
        MmioDeviceAccess second = rig.machine.bind(new ConsoleShapedDevice("second"));
        assertThat(second.slot()).isEqualTo(1);
        assertThat(second.baseAddress()).isEqualTo(0xd000_1000L);
        rig.machine.unbind("second");
        assertThat(second.read(DEVICE_ID, 4)).isZero();
        assertThat(second.read(MAGIC_VALUE, 4)).isEqualTo(MAGIC);
        assertThat(second.isBound()).isFalse();
        assertThat(rig.machine.slot(1).read(DEVICE_ID, 4)).isZero();
        rig.machine.bind(new ConsoleShapedDevice("other"));
        MmioDeviceAccess back = rig.machine.bind(new ConsoleShapedDevice("second"));
        assertThat(back.slot()).as("a name seen before gets its slot back if free").isEqualTo(2);
        assertThatThrownBy(() -> rig.machine.bind(new ConsoleShapedDevice("second"))).isInstanceOf(IllegalStateException.class);
        assertThat(rig.machine.boundSlots()).extracting(MmioDeviceAccess::deviceName)
                .containsExactly("console0", "other", "second", "fixed");
    }

    @Test
    @DisplayName("HD-51: unbinding mid-I/O drops in-flight work, the worker thread ends, the driver sees an empty slot")
    void unbindMidIo() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        queues.get(0).addInbound(16);
        queues.get(0).kick();
        long workers = workerThreads();
        assertThat(workers).isEqualTo(1);
        rig.machine.unbind("console0");
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (workerThreads() != 0 && System.nanoTime() < deadline) {
            LockSupport.parkNanos(1_000_000);
        }
        assertThat(workerThreads()).isZero();
        assertThat(rig.r(DEVICE_ID)).isZero();
        assertThat(rig.r(STATUS)).isZero();
        rig.w(STATUS, 1);
        rig.w(QUEUE_NOTIFY, 0);
        assertThat(rig.window.interruptAsserted()).isFalse();
        assertThat(rig.device.isAttached()).isFalse();
        MmioDeviceAccess again = rig.machine.bind(rig.device);
        VirtioMmioDriver fresh = new VirtioMmioDriver(again, rig.ram);
        List<DriverQueue> q2 = fresh.initialize(F0, 2, 8);
        q2.get(1).addOutbound(ascii("back"));
        q2.get(1).kick();
        fresh.awaitCompletions(q2.get(1), 1, 5000);
    }

    private static long workerThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("virtio-console0")).count();
    }

    @Test
    @DisplayName("GuestRamAllocator: alignment, exhaustion, coalescing on free")
    void allocator() {
        GuestRamAllocator ram = new GuestRamAllocator(0x1000, 0x3000);
        long a = ram.allocate(0x10, 16);
        long b = ram.allocate(0x1000, 4096);
        assertThat(a).isEqualTo(0x1000);
        assertThat(b % 4096).isZero();
        assertThatThrownBy(() -> ram.allocate(0x3000, 8)).isInstanceOf(IllegalStateException.class);
        ram.free(a);
        ram.free(b);
        assertThat(ram.freeBytes()).isEqualTo(0x3000);
        assertThat(ram.allocate(0x3000, 8)).isEqualTo(0x1000);
        assertThatThrownBy(() -> ram.free(0x1234)).isInstanceOf(IllegalArgumentException.class);
    }
}
