package dev.peridot.virtio.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.testing.Await;
import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.DriverRing.Buffer;
import dev.peridot.virtio.testing.Rig;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Enabling, disabling and resetting single queues (spec 2.6.1, 4.2.2; HD-04, HD-08, HD-10, HD-12). */
class QueueLifecycleTest {

    private final Rig rig = Rig.standard();

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    @DisplayName("INIT-06: queue configuration before FEATURES_OK is refused")
    void queueSetupBeforeFeaturesOkIsRefused() {
        rig.device.writeStatus(0x03);
        rig.program(0, 8);
        rig.device.setQueueReady(0, true);
        assertThat(rig.device.isQueueReady(0)).isFalse();
        assertThat(rig.device.statistics().refusedQueueWrites()).isGreaterThanOrEqualTo(5);
    }

    @Test
    @DisplayName("HD-04/SPLIT-03/MMIO-40/MMIO-47: size 0, not a power of 2, or above the maximum is refused at QueueReady")
    void invalidSizesAreRefused() {
        rig.negotiate(Rig.VERSION_1);
        for (int size : new int[] {0, 3, 0x81, 512}) {
            rig.program(0, 8);
            rig.device.setQueueSize(0, size);
            rig.device.setQueueReady(0, true);
            assertThat(rig.device.isQueueReady(0)).as("size %d", size).isFalse();
        }
        rig.program(0, 8);
        rig.device.setQueueReady(0, true);
        assertThat(rig.device.isQueueReady(0)).isTrue();
    }

    @Test
    @DisplayName("HD-10: QueueReady=1 with no addresses written is refused; twice is harmless")
    void readyWithoutAddressesIsRefused() {
        rig.negotiate(Rig.VERSION_1);
        rig.device.setQueueSize(0, 8);
        rig.device.setQueueReady(0, true);
        assertThat(rig.device.isQueueReady(0)).isFalse();
        rig.program(0, 8);
        rig.device.setQueueReady(0, true);
        rig.device.setQueueReady(0, true);
        assertThat(rig.device.isQueueReady(0)).isTrue();
    }

    @Test
    @DisplayName("HD-08/MMIO-41: writes to an enabled queue are ignored; it keeps using the latched layout")
    void writesToEnabledQueueAreIgnored() {
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        rig.device.setQueueDescriptorArea(1, 0xDEAD_0000L);
        rig.device.setQueueSize(1, 2);
        tx.post(Buffer.readable(rig.buffer("ok".getBytes(StandardCharsets.US_ASCII)), 2));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
        assertThat(rig.device.queueInfo(1).size()).isEqualTo(8);
        assertThat(rig.device.queueInfo(1).descriptorArea()).isEqualTo(tx.desc);
    }

    @Test
    @DisplayName("HD-08: after DRIVER_OK without RING_RESET, a disabled queue cannot be reconfigured")
    void noReconfigurationAfterDriverOkWithoutRingReset() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.setQueueReady(1, false);
        assertThat(rig.device.isQueueReady(1)).isFalse();
        rig.device.setQueueSize(1, 4);
        rig.device.setQueueReady(1, true);
        assertThat(rig.device.isQueueReady(1)).isFalse();
    }

    @Test
    @DisplayName("MMIO-42/MMIO-43/CLEAN-04: QueueReady=0 stops all access; re-enabling starts a fresh ring at used.ring[0]")
    void disableStopsAccessAndReEnableIsFresh() {
        rig.bringUp(Rig.ALL_CORE, 8);
        DriverRing rx = rig.ring(0);
        long canary = rig.buffer(new byte[] {(byte) 0xA5});
        rx.post(Buffer.writable(canary, 1));
        rig.device.setQueueReady(0, false);
        assertThat(rig.device.isQueueReady(0)).isFalse();
        rig.device.notifyQueue(0);
        Await.settle();
        assertThat(rx.usedIdx()).isZero();
        DriverRing fresh = rig.program(0, 4);
        rig.device.setQueueReady(0, true);
        fresh.post(Buffer.writable(rig.buffer(1), 1));
        rig.device.notifyQueue(0);
        rig.awaitUsed(0, 1);
        assertThat(fresh.usedEntry(0).id()).isZero();
    }

    @Test
    @DisplayName("VQ-05/VQ-06/VQ-08/MMIO-30/MMIO-32/HD-12: a queue reset drops in-flight buffers, leaves other queues alone, re-enables fresh with a new size")
    void queueResetDropsInFlightAndRestartsFresh() {
        rig.bringUp(Rig.ALL_CORE, 8);
        rig.device.hold = true;
        DriverRing rx = rig.ring(0);
        long canary = rig.buffer(new byte[] {(byte) 0xA5, (byte) 0xA5});
        for (int i = 0; i < 3; i++) {
            rx.post(Buffer.writable(canary, 2));
        }
        rig.device.notifyQueue(0);
        Await.until(() -> rig.device.chainsSeen.get() == 3, "3 held chains");
        rig.device.resetQueue(0);
        assertThat(rig.device.isQueueResetInProgress(0)).isFalse();
        assertThat(rig.device.isQueueReady(0)).isFalse();
        assertThat(rig.device.events).contains("queue-stopped 0");
        rig.device.releaseHeld();
        Await.settle();
        assertThat(rx.usedIdx()).as("VQ-05: no completion after the reset").isZero();
        assertThat(rig.read(canary, 2)).containsExactly(0xA5, 0xA5);
        rig.device.hold = false;
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
        DriverRing fresh = rig.program(0, 4);
        rig.device.setQueueReady(0, true);
        for (int i = 0; i < 6; i++) {
            fresh.post(Buffer.writable(rig.buffer(1), 1));
            rig.device.notifyQueue(0);
            rig.awaitUsed(0, i + 1);
        }
        assertThat(fresh.usedEntry(5).id()).as("VQ-08: index modulo the new size 4").isEqualTo(fresh.usedEntry(1).id());
        assertThat(rig.device.statistics().queueResets()).isEqualTo(1);
    }

    @Test
    @DisplayName("VQ-10: QueueReset without RING_RESET or on a disabled queue has no effect")
    void queueResetWithoutFeatureIsIgnored() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.resetQueue(1);
        assertThat(rig.device.isQueueReady(1)).isTrue();
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
    }

    @Test
    @DisplayName("MMIO-31: QueueReset reads 1 and QueueReady 1 while the device still holds the queue; both read 0 when done")
    void queueResetInProgressIsVisible() throws Exception {
        rig.bringUp(Rig.ALL_CORE, 8);
        java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
        rig.device.gate = gate;
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        Await.settle();
        rig.device.resetQueue(1);
        assertThat(rig.device.isQueueResetInProgress(1)).isTrue();
        assertThat(rig.device.isQueueReady(1)).isTrue();
        rig.device.gate = null;
        gate.countDown();
        Await.until(() -> !rig.device.isQueueResetInProgress(1), "queue reset done");
        assertThat(rig.device.isQueueReady(1)).isFalse();
    }

    @Test
    @DisplayName("stopQueue (vhost-user GET_VRING_BASE) reports where the ring stopped, also after QueueReady=0; a resume continues there")
    void stopQueueReportsTheRingPosition() {
        rig.bringUp(Rig.ALL_CORE, 8);
        DriverRing tx = rig.ring(1);
        for (int i = 0; i < 3; i++) {
            tx.post(Buffer.readable(rig.buffer(new byte[] {(byte) i}), 1));
        }
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 3);
        assertThat(rig.device.stopQueue(1)).isEqualTo(3);
        assertThat(rig.device.stopQueue(1)).as("asked again").isEqualTo(3);
        rig.device.setQueueNextAvail(1, 3);
        rig.device.setQueueReady(1, true);
        tx.post(Buffer.readable(rig.buffer(new byte[] {9}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 4);
        rig.device.setQueueReady(1, false);
        assertThat(rig.device.stopQueue(1)).as("after a plain QueueReady=0").isEqualTo(4);
    }

    @Test
    @DisplayName("MMIO-27: a configured but not enabled queue is never accessed")
    void disabledQueueIsNotAccessed() {
        rig.negotiate(Rig.VERSION_1);
        DriverRing rx = rig.program(0, 8);
        rig.program(1, 8);
        rig.device.setQueueReady(1, true);
        rig.device.writeStatus(0x0F);
        byte[] before = rig.read(rx.desc, (int) rx.footprint());
        long canary = rig.buffer(new byte[] {(byte) 0xA5});
        rx.post(Buffer.writable(canary, 1));
        byte[] posted = rig.read(rx.desc, (int) rx.footprint());
        rig.device.notifyQueue(0);
        Await.settle();
        assertThat(rig.read(rx.desc, (int) rx.footprint())).isEqualTo(posted);
        assertThat(Arrays.equals(before, posted)).isFalse();
        assertThat(rig.read(canary, 1)).containsExactly(0xA5);
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }
}
