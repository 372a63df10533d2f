package dev.peridot.virtio.device;

import static dev.peridot.virtio.device.DeviceStatus.ACKNOWLEDGE;
import static dev.peridot.virtio.device.DeviceStatus.DEVICE_NEEDS_RESET;
import static dev.peridot.virtio.device.DeviceStatus.DRIVER;
import static dev.peridot.virtio.device.DeviceStatus.DRIVER_OK;
import static dev.peridot.virtio.device.DeviceStatus.FAILED;
import static dev.peridot.virtio.device.DeviceStatus.FEATURES_OK;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.testing.Await;
import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.DriverRing.Buffer;
import dev.peridot.virtio.testing.Rig;
import dev.peridot.virtio.testing.TestDevice;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The status field and feature negotiation (spec 2.1, 2.2, 3.1, 6). */
class StatusTransitionTest {

    private final Rig rig = Rig.standard();
    private final TestDevice device = rig.device;

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    @DisplayName("STAT-02: status starts at 0; STAT-01/INIT-02: the driver's bits latch in order")
    void statusWalksThroughTheInitializationSequence() {
        assertThat(device.status()).isZero();
        assertThat(device.state()).isEqualTo(DeviceState.INIT);
        device.writeStatus(ACKNOWLEDGE);
        assertThat(device.status()).isEqualTo(0x01);
        device.writeStatus(ACKNOWLEDGE | DRIVER);
        assertThat(device.status()).isEqualTo(0x03);
        device.setDriverFeatureWord(1, 1);
        device.writeStatus(0x0B);
        assertThat(device.status()).isEqualTo(0x0B);
        assertThat(device.state()).isEqualTo(DeviceState.FEATURES_OK);
        device.writeStatus(0x0F);
        assertThat(device.status()).isEqualTo(0x0F);
        assertThat(device.state()).isEqualTo(DeviceState.DRIVER_OK);
    }

    @Test
    @DisplayName("STAT-07: DRIVER_OK without FEATURES_OK does not latch; the whole invalid write is refused")
    void driverOkWithoutFeaturesOkIsRefused() {
        device.writeStatus(0x07);
        assertThat(device.status()).isZero();
        device.writeStatus(0x03);
        device.writeStatus(0x07);
        assertThat(device.status()).isEqualTo(0x03);
        assertThat(device.statistics().refusedStatusWrites()).isEqualTo(2);
    }

    @Test
    @DisplayName("DeviceState table: DRIVER needs ACKNOWLEDGE, FEATURES_OK needs DRIVER, DRIVER_OK needs a latched FEATURES_OK")
    void transitionTable() {
        device.writeStatus(DRIVER);
        assertThat(device.status()).as("DRIVER without ACKNOWLEDGE").isZero();
        device.setDriverFeatureWord(1, 1);
        device.writeStatus(ACKNOWLEDGE | FEATURES_OK);
        assertThat(device.status()).as("FEATURES_OK without DRIVER").isZero();
        device.writeStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK);
        assertThat(device.status()).as("several valid bits at once").isEqualTo(0x0B);
        rig.device.reset();
        device.setDriverFeatureWord(1, 1);
        device.writeStatus(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
        assertThat(device.status()).as("DRIVER_OK in the same write as FEATURES_OK").isZero();
    }

    @Test
    @DisplayName("STAT-08: a write that clears bits keeps them; the device keeps working")
    void clearingBitsIsIgnored() {
        rig.bringUp(Rig.VERSION_1, 8);
        device.writeStatus(0x0B);
        assertThat(device.status()).isEqualTo(0x0F);
        DriverRing tx = rig.ring(1);
        tx.post(Buffer.readable(rig.buffer("abc".getBytes(StandardCharsets.US_ASCII)), 3));
        device.notifyQueue(1);
        rig.awaitUsed(1, 1);
        assertThat(device.receivedBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("abc");
    }

    @Test
    @DisplayName("STAT-09/INIT-09: FAILED is sticky: later bits are ignored and no buffer is consumed until reset")
    void failedIsStickyUntilReset() {
        rig.negotiate(Rig.VERSION_1);
        DriverRing tx = rig.program(1, 8);
        device.setQueueReady(1, true);
        device.writeStatus(0x8B);
        assertThat(device.status()).isEqualTo(0x8B);
        device.writeStatus(0x8F);
        assertThat(device.status()).isEqualTo(0x8B);
        assertThat(device.state()).isEqualTo(DeviceState.FAILED);
        tx.post(Buffer.readable(rig.buffer(new byte[] {1}), 1));
        device.notifyQueue(1);
        Await.settle();
        assertThat(tx.usedIdx()).isZero();
        device.writeStatus(0);
        assertThat(device.status()).isZero();
        rig.bringUp(Rig.VERSION_1, 8);
        assertThat(device.status()).isEqualTo(0x0F);
    }

    @Test
    @DisplayName("STAT-11: undefined bits 0x10/0x20 and the device-owned 0x40 are masked in driver writes")
    void undefinedAndDeviceOwnedBitsAreMasked() {
        device.writeStatus(0x13);
        assertThat(device.status()).isEqualTo(0x03);
        rig.device.reset();
        rig.bringUp(Rig.VERSION_1, 8);
        device.writeStatus(0x4F);
        assertThat(device.status()).isEqualTo(0x0F);
        assertThat(device.state()).isEqualTo(DeviceState.DRIVER_OK);
    }

    @Test
    @DisplayName("STAT-12/STAT-16/INIT-01: reset is accepted in every state, also repeated, and reads 0")
    void resetFromEveryState() {
        device.writeStatus(0);
        device.writeStatus(0);
        assertThat(device.status()).isZero();
        for (int s : new int[] {0x01, 0x03, 0x0B, 0x0F, 0x8B}) {
            if (s >= 0x0B) {
                rig.negotiate(Rig.VERSION_1);
            }
            device.writeStatus(s);
            device.writeStatus(0);
            assertThat(device.status()).as("after state 0x%x", s).isZero();
        }
        rig.negotiate(FeatureSet.of(23).union(Rig.VERSION_1));
        assertThat(device.status() & FEATURES_OK).as("refused features").isZero();
        device.writeStatus(0);
        assertThat(device.status()).isZero();
        assertThat(rig.transport.resetsCompleted.get()).isGreaterThanOrEqualTo(8);
    }

    @Test
    @DisplayName("FEAT-05/FEAT-07: FEATURES_OK is refused, on the first read back, for unoffered bits in any window")
    void unofferedFeaturesAreRefused() {
        assertThat(rig.negotiate(FeatureSet.of(23).union(Rig.VERSION_1)) & FEATURES_OK).isZero();
        device.reset();
        device.writeStatus(0x03);
        device.setDriverFeatureWord(1, 1);
        device.setDriverFeatureWord(2, 1);
        device.writeStatus(0x0B);
        assertThat(device.status() & FEATURES_OK).as("bit 64").isZero();
        device.reset();
        device.writeStatus(0x03);
        device.setDriverFeatureWord(1, 1);
        device.setDriverFeatureWord(7, 0x10);
        device.writeStatus(0x0B);
        assertThat(device.status() & FEATURES_OK).as("window 7, beyond bit 127").isZero();
    }

    @Test
    @DisplayName("FEAT-13/FEAT-14: without VIRTIO_F_VERSION_1 FEATURES_OK and DRIVER_OK do not latch")
    void version1IsRequired() {
        assertThat(rig.negotiate(FeatureSet.of(ReservedFeature.VIRTIO_F_EVENT_IDX)) & FEATURES_OK).isZero();
        device.writeStatus(0x0F);
        assertThat(device.status()).isEqualTo(0x03);
    }

    @Test
    @DisplayName("FEAT-04: every valid subset of the offer that contains VERSION_1 is accepted")
    void everyValidSubsetIsAccepted() {
        int[] optional = {28, 29, 40};
        for (int mask = 0; mask < 8; mask++) {
            FeatureSet subset = Rig.VERSION_1;
            for (int i = 0; i < optional.length; i++) {
                if ((mask & (1 << i)) != 0) {
                    subset = subset.with(optional[i]);
                }
            }
            device.reset();
            assertThat(rig.negotiate(subset) & FEATURES_OK).as("subset %s", subset).isNotZero();
            assertThat(device.negotiatedFeatures()).isEqualTo(subset);
        }
    }

    @Test
    @DisplayName("FEAT-06: the same set is accepted again after every reset")
    void renegotiationAfterResetSucceeds() {
        for (int i = 0; i < 100; i++) {
            device.reset();
            assertThat(rig.negotiate(Rig.ALL_CORE) & FEATURES_OK).isNotZero();
        }
    }

    @Test
    @DisplayName("FEAT-09: DriverFeatures writes after FEATURES_OK are ignored; the negotiated set is frozen")
    void featuresAreFrozenAtFeaturesOk() {
        rig.negotiate(Rig.VERSION_1);
        device.setDriverFeatureWord(0, 1 << 29);
        assertThat(device.negotiatedFeatures()).isEqualTo(Rig.VERSION_1);
        assertThat(device.driverFeatureWord(0)).isZero();
    }

    @Test
    @DisplayName("INIT-03: feature windows may be written in any order")
    void windowsInAnyOrder() {
        device.writeStatus(0x03);
        device.setDriverFeatureWord(1, 1);
        device.setDriverFeatureWord(0, 1 << 28);
        device.writeStatus(0x0B);
        assertThat(device.negotiatedFeatures()).isEqualTo(FeatureSet.of(28, 32));
    }

    @Test
    @DisplayName("a device-specific veto (acceptFeatures) refuses FEATURES_OK")
    void deviceCanVetoFeatures() {
        device.acceptFeaturesAnswer = false;
        assertThat(rig.negotiate(Rig.VERSION_1) & FEATURES_OK).isZero();
    }

    @Test
    @DisplayName("FEAT-12/FEAT-01: VERSION_1 must be offered; reserved bits the core does not implement cannot be offered")
    void offerIsChecked() {
        assertThatThrownBy(() -> new TestDevice("x", FeatureSet.of(28), 8)).isInstanceOf(IllegalArgumentException.class);
        for (ReservedFeature f : new ReservedFeature[] {ReservedFeature.VIRTIO_F_ACCESS_PLATFORM,
                ReservedFeature.VIRTIO_F_SR_IOV, ReservedFeature.VIRTIO_F_NOTIF_CONFIG_DATA,
                ReservedFeature.VIRTIO_F_ANY_LAYOUT, ReservedFeature.VIRTIO_F_UNUSED,
                ReservedFeature.VIRTIO_F_NOTIFY_ON_EMPTY, ReservedFeature.VIRTIO_F_RING_PACKED}) {
            assertThatThrownBy(() -> new TestDevice("x", Rig.VERSION_1.with(f), 8))
                    .as(f.name()).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> new TestDevice("x", Rig.VERSION_1.with(41), 8)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("FEAT-02: the offer cannot change while a driver uses the device")
    void offerIsConstantWhileDriverActive() {
        device.writeStatus(ACKNOWLEDGE);
        assertThatThrownBy(() -> device.setOfferedFeatures(Rig.VERSION_1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> device.setQueueMaxSizes(8)).isInstanceOf(IllegalStateException.class);
        device.reset();
        device.setOfferedFeatures(Rig.VERSION_1);
        assertThat(device.presentedFeatures()).isEqualTo(Rig.VERSION_1);
    }

    @Test
    @DisplayName("the transport's mask removes reserved bits it cannot carry, never VERSION_1 or device bits")
    void transportMasksReservedBits() {
        try (var memory = dev.peridot.virtio.memory.SegmentGuestMemory.allocate(0, 1 << 20)) {
            TestDevice d = new TestDevice("masked", Rig.ALL_CORE.with(1), 8);
            d.attach(new dev.peridot.virtio.testing.RecordingTransport(memory,
                    FeatureSet.of(ReservedFeature.VIRTIO_F_EVENT_IDX)));
            assertThat(d.presentedFeatures()).isEqualTo(FeatureSet.of(1, 29, 32));
            d.detach();
            assertThat(d.presentedFeatures()).isEqualTo(Rig.ALL_CORE.with(1));
        }
    }

    @Test
    @DisplayName("INIT-04: the FEATURES_OK verdict is final at the first read back")
    void featuresOkVerdictIsStable() {
        rig.negotiate(Rig.VERSION_1);
        int first = device.status();
        for (int i = 0; i < 10; i++) {
            assertThat(device.status()).isEqualTo(first);
        }
    }

    @Test
    @DisplayName("DEVICE_NEEDS_RESET in writes is never latched by the driver (STAT-01: the device owns it)")
    void driverCannotSetNeedsReset() {
        device.writeStatus(DEVICE_NEEDS_RESET | ACKNOWLEDGE);
        assertThat(device.status()).isEqualTo(ACKNOWLEDGE);
    }
}
