package dev.peridot.virtio.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.testing.Await;
import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.DriverRing.Buffer;
import dev.peridot.virtio.testing.Rig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Used buffer notification suppression (spec 2.7.7) with and without VIRTIO_F_EVENT_IDX. */
class NotificationSuppressionTest {

    private static final FeatureSet EVENT_IDX = Rig.VERSION_1.with(ReservedFeature.VIRTIO_F_EVENT_IDX);
    private Rig rig;

    @AfterEach
    void close() {
        if (rig != null) {
            rig.close();
        }
    }

    /** Posts one readable byte on the transmit queue, kicks, and waits until it is used. */
    private void sendOne(DriverRing tx, long buf) {
        int target = (tx.usedIdx() + 1) & 0xFFFF;
        tx.post(Buffer.readable(buf, 1));
        rig.device.notifyQueue(1);
        rig.awaitUsed(1, target);
    }

    private int notifications() {
        return rig.transport.usedNotifications.get(1);
    }

    @Test
    @DisplayName("SPLIT-28/SPLIT-29: without EVENT_IDX used_event is ignored and flags 0 means a notification per buffer")
    void withoutEventIdxFlagsZeroNotifies() {
        rig = Rig.standard().bringUp(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.setUsedEvent(0x1234);
        long buf = rig.buffer(1);
        for (int i = 1; i <= 3; i++) {
            sendOne(tx, buf);
            int expected = i;
            Await.until(() -> notifications() == expected, "notification " + expected);
        }
    }

    @Test
    @DisplayName("SPLIT-30/SPLIT-34: without EVENT_IDX, flags bit 0 suppresses; other bits are ignored")
    void withoutEventIdxNoInterruptSuppresses() {
        rig = Rig.standard().bringUp(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(1);
        tx.setAvailFlags(0x0003);
        sendOne(tx, buf);
        Await.settle();
        assertThat(notifications()).isZero();
        tx.setAvailFlags(0xFFFE);
        sendOne(tx, buf);
        Await.until(() -> notifications() == 1, "flags 0xFFFE treated as 0");
    }

    @Test
    @DisplayName("SPLIT-31/SPLIT-32/SPLIT-33: with EVENT_IDX flags are ignored and the driver is notified when used idx passes used_event")
    void eventIdxNotifiesAtUsedEvent() {
        rig = Rig.standard().bringUp(EVENT_IDX, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(1);
        tx.setAvailFlags(1);
        tx.setUsedEvent(0);
        sendOne(tx, buf);
        Await.until(() -> notifications() == 1, "first buffer with used_event 0");
        tx.setUsedEvent(3);
        sendOne(tx, buf);
        sendOne(tx, buf);
        Await.settle();
        assertThat(notifications()).as("used idx 2 and 3 have not passed used_event 3 yet").isEqualTo(1);
        sendOne(tx, buf);
        Await.until(() -> notifications() == 2, "used idx 4 passes used_event 3");
        tx.setUsedEvent(100);
        sendOne(tx, buf);
        sendOne(tx, buf);
        Await.settle();
        assertThat(notifications()).isEqualTo(2);
    }

    @Test
    @DisplayName("SPLIT-32: used_event with 16-bit wrap-around")
    void eventIdxWrapsAround() {
        assertThat(SplitRing.needEvent(0xFFFF, 0x0000, 0xFFFF)).isTrue();
        assertThat(SplitRing.needEvent(0xFFFE, 0x0001, 0xFFFD)).isTrue();
        assertThat(SplitRing.needEvent(0x0002, 0x0001, 0xFFFD)).isFalse();
        assertThat(SplitRing.needEvent(1, 3, 0)).as("batch old=0 new=3 covers used_event 1").isTrue();
        assertThat(SplitRing.needEvent(5, 3, 0)).isFalse();
    }

    @Test
    @DisplayName("STAT-17: a reset discards EVENT_IDX: after renegotiating without it every buffer notifies again")
    void resetDiscardsNegotiatedFeatures() {
        rig = Rig.standard().bringUp(EVENT_IDX, 8);
        rig.device.writeStatus(0);
        rig.bringUp(Rig.VERSION_1, 8);
        DriverRing tx = rig.ring(1);
        tx.setUsedEvent(100);
        long buf = rig.buffer(1);
        sendOne(tx, buf);
        sendOne(tx, buf);
        Await.until(() -> notifications() == 2, "a notification per buffer");
    }

    @Test
    @DisplayName("FEAT-09: EVENT_IDX written after FEATURES_OK does not take effect")
    void lateFeatureWritesDoNotTakeEffect() {
        rig = Rig.standard().bringUp(Rig.VERSION_1, 8);
        rig.device.setDriverFeatureWord(0, 1 << 29);
        DriverRing tx = rig.ring(1);
        tx.setUsedEvent(100);
        long buf = rig.buffer(1);
        for (int i = 1; i <= 3; i++) {
            sendOne(tx, buf);
        }
        Await.until(() -> notifications() == 3, "three notifications");
    }

    @Test
    @DisplayName("SPLIT-48: a driver that notifies only per avail_event never strands a buffer")
    void driverFollowingAvailEventNeverStalls() {
        rig = Rig.standard().bringUp(EVENT_IDX, 8);
        DriverRing tx = rig.ring(1);
        long buf = rig.buffer(1);
        int total = 20_000;
        int sent = 0;
        while (sent < total) {
            while (((tx.availIdx() - tx.usedIdx()) & 0xFFFF) >= 8) {
                Thread.onSpinWait();
            }
            int old = tx.availIdx();
            tx.writeDescriptor(sent % 8, buf, 1, 0, 0);
            tx.publish(sent % 8);
            sent++;
            if (SplitRing.needEvent(tx.availEvent(), tx.availIdx(), old)) {
                rig.device.notifyQueue(1);
            }
        }
        rig.awaitUsed(1, total);
        assertThat(rig.device.queueInfo(1).notificationsReceived()).isLessThanOrEqualTo(total);
    }
}
