package dev.peridot.virtio.device;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.testing.Await;
import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.DriverRing.Buffer;
import dev.peridot.virtio.testing.Rig;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Device reset with RESET_UNDERWAY (VD01 §2.2, spec 2.4) and the DEVICE_NEEDS_RESET error policy (spec 2.1.2). */
class ResetAndErrorTest {

    private final Rig rig = Rig.standard();

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    @DisplayName("RESET_UNDERWAY/STAT-13/HD-11: while the worker is busy Status keeps its old value, the writer is not held, then it reads 0")
    void resetUnderwayWhileWorkerIsBusy() {
        rig.bringUp(Rig.VERSION_1, 8);
        CountDownLatch gate = new CountDownLatch(1);
        rig.device.gate = gate;
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        Await.settle();
        rig.device.writeStatus(0);
        assertThat(rig.device.status()).as("old value presented during the reset").isEqualTo(0x0F);
        assertThat(rig.device.isResetUnderway()).isTrue();
        assertThat(rig.device.state()).isEqualTo(DeviceState.RESET_UNDERWAY);
        rig.device.writeStatus(0x01);
        assertThat(rig.device.status()).as("writes during the reset are refused").isEqualTo(0x0F);
        rig.device.gate = null;
        gate.countDown();
        Await.until(() -> rig.device.status() == 0, "reset finished");
        assertThat(rig.device.state()).isEqualTo(DeviceState.INIT);
        assertThat(tx.usedIdx()).as("STAT-10: the in-flight request is dropped").isZero();
        assertThat(rig.device.events).contains("reset");
    }

    @Test
    @DisplayName("STAT-15/MMIO-25: when Status first reads 0 the transport's interrupt state is already cleared and no queue is ready")
    void statusReadsZeroOnlyAfterEverythingIsCleared() {
        rig.bringUp(Rig.VERSION_1, 8);
        int before = rig.transport.resetsCompleted.get();
        rig.device.writeStatus(0);
        assertThat(rig.device.status()).isZero();
        assertThat(rig.transport.resetsCompleted.get()).isEqualTo(before + 1);
        for (int q = 0; q < rig.device.queueCount(); q++) {
            assertThat(rig.device.isQueueReady(q)).isFalse();
        }
        assertThat(rig.device.negotiatedFeatures().isEmpty()).isTrue();
    }

    @Test
    @DisplayName("STAT-14/CLEAN-01: after the reset completes the device touches no queue and sends nothing")
    void nothingHappensAfterReset() {
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        rig.device.writeStatus(0);
        int notifications = rig.transport.totalUsedNotifications();
        int configs = rig.transport.configNotifications.get();
        byte[] ringBefore = rig.read(tx.desc, (int) tx.footprint());
        tx.post(Buffer.readable(rig.buffer(new byte[] {'z'}), 1));
        byte[] ringPosted = rig.read(tx.desc, (int) tx.footprint());
        rig.device.notifyQueue(1);
        rig.device.setConfigWord(0x55);
        Await.settle();
        assertThat(rig.read(tx.desc, (int) tx.footprint())).isEqualTo(ringPosted).isNotEqualTo(ringBefore);
        assertThat(rig.device.receivedBytes()).isEmpty();
        assertThat(rig.transport.totalUsedNotifications()).isEqualTo(notifications);
        assertThat(rig.transport.configNotifications.get()).isEqualTo(configs);
    }

    @Test
    @DisplayName("HD-11: reset in the middle of I/O with held chains, back-to-back resets, reset during negotiation")
    void resetsAtAwkwardMoments() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.hold = true;
        DriverRing tx = rig.ring(1);
        for (int i = 0; i < 4; i++) {
            tx.post(Buffer.readable(rig.buffer(new byte[] {(byte) i}), 1));
        }
        rig.device.notifyQueue(1);
        Await.until(() -> rig.device.chainsSeen.get() == 4, "4 held chains");
        rig.device.writeStatus(0);
        rig.device.writeStatus(0);
        rig.device.writeStatus(0x01);
        rig.device.writeStatus(0);
        assertThat(rig.device.status()).isZero();
        assertThat(rig.device.heldCount()).isZero();
        rig.device.hold = false;
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing fresh = rig.ring(1);
        fresh.post(Buffer.readable(rig.buffer(new byte[] {7}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
    }

    @Test
    @DisplayName("STAT-04/STAT-05/STAT-06/HD-50: a device-side error sets NEEDS_RESET, notifies, persists, and a reset recovers")
    void needsResetLifecycle() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.needsResetFromDevice("backend lost");
        assertThat(rig.device.status()).isEqualTo(0x4F);
        assertThat(rig.device.state()).isEqualTo(DeviceState.DEVICE_NEEDS_RESET);
        Await.until(() -> rig.transport.configNotifications.get() == 1, "config notification");
        rig.device.needsResetFromDevice("second error");
        assertThat(rig.device.needsResetReason()).contains("backend lost");
        assertThat(rig.device.statistics().needsResetEvents()).isEqualTo(1);
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        Await.settle();
        assertThat(tx.usedIdx()).as("processing stops while NEEDS_RESET").isZero();
        assertThat(rig.device.status()).isEqualTo(0x4F);
        rig.device.writeStatus(0);
        assertThat(rig.device.status()).isZero();
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing fresh = rig.ring(1);
        fresh.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
    }

    @Test
    @DisplayName("NEEDS_RESET before DRIVER_OK sets the bit but sends no notification (spec 2.1.2 applies with DRIVER_OK)")
    void needsResetBeforeDriverOkDoesNotNotify() {
        rig.negotiate(Rig.VERSION_1);
        rig.device.needsResetFromDevice("early");
        assertThat(rig.device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isNotZero();
        Await.settle();
        assertThat(rig.transport.configNotifications.get()).isZero();
    }

    @Test
    @DisplayName("a bug in device code becomes NEEDS_RESET, never an exception into the caller or a dead worker")
    void deviceCodeFailureIsContained() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.failInProcess = true;
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        rig.awaitNeedsReset();
        assertThat(rig.device.needsResetReason().orElseThrow()).contains("device error");
        rig.device.failInProcess = false;
        rig.device.writeStatus(0);
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing fresh = rig.ring(1);
        fresh.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
    }

    @Test
    @DisplayName("HD-51: detach mid-I/O stops the worker thread, resets the device, and a later attach works")
    void detachAndReattach() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.hold = true;
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        Await.until(() -> rig.device.chainsSeen.get() == 1, "held chain");
        long workersBefore = workerThreads();
        rig.device.detach();
        assertThat(rig.device.isAttached()).isFalse();
        assertThat(rig.device.status()).isZero();
        Await.until(() -> workerThreads() == workersBefore - 1, "worker thread gone");
        rig.device.detach();
        rig.device.attach(rig.transport);
        rig.device.hold = false;
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing fresh = rig.ring(1);
        fresh.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, 1);
    }

    private static long workerThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("virtio-test0")).count();
    }

    @Test
    @DisplayName("a device is attached to at most one transport")
    void attachTwiceIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> rig.device.attach(rig.transport))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    @DisplayName("stop() pauses processing without losing buffers; start() resumes")
    void stopAndStart() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.stop();
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        rig.device.notifyQueue(1);
        Await.settle();
        assertThat(tx.usedIdx()).isZero();
        rig.device.start();
        rig.awaitUsed(1, 1);
    }

    @Test
    @DisplayName("concurrent resets and kicks from several threads leave the device consistent")
    void concurrentResetsAndKicks() throws Exception {
        AtomicInteger failures = new AtomicInteger();
        for (int round = 0; round < 20; round++) {
            rig.bringUp(Rig.VERSION_1, 8);
            DriverRing tx = rig.ring(1);
            for (int i = 0; i < 8; i++) {
                tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
            }
            Thread kicker = new Thread(() -> {
                try {
                    for (int i = 0; i < 1000; i++) {
                        rig.device.notifyQueue(1);
                    }
                } catch (Throwable t) {
                    failures.incrementAndGet();
                }
            });
            kicker.start();
            rig.device.writeStatus(0);
            kicker.join();
            Await.until(() -> rig.device.status() == 0, "reset done");
        }
        assertThat(failures.get()).isZero();
    }
}
