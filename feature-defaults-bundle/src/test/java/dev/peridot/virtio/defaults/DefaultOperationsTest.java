package dev.peridot.virtio.defaults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.peridot.virtio.defaults.internal.DefaultOperationsComponent;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.FeatureOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.Feature;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** 'Default Config Operations' and 'Default Feature Operations' (VD01 §5) over a device, and the DS service that hands them out. */
class DefaultOperationsTest {

    /** Two device-type features of a made-up device, to show a device adds only its own part. */
    enum DemoFeature implements Feature {
        DEMO_F_ALPHA(0), DEMO_F_OMEGA(60);

        private final int bit;

        DemoFeature(int bit) {
            this.bit = bit;
        }

        @Override
        public int bit() {
            return bit;
        }
    }

    static final class DemoDevice extends VirtioDevice {
        DemoDevice() {
            super("demo", 0xFFF3, FeatureSet.of(0, 28, 32, 60), new int[] {8, 16}, 4);
        }

        @Override
        protected void processQueue(VirtqueueAccess queue) {
        }
    }

    private final DemoDevice device = new DemoDevice();
    private final DefaultOperations service = new DefaultOperationsComponent();

    @Test
    @DisplayName("Default Config Operations: raw parameters and 32-bit feature words by selector (MMIO-07, MMIO-08)")
    void configOperationsAreTheDevicesParameters() {
        ConfigOperations config = service.configOperations(device);
        assertThat(config.deviceId()).isEqualTo(0xFFF3);
        assertThat(config.vendorId()).isEqualTo(VirtioDevice.DEFAULT_VENDOR_ID);
        assertThat(config.deviceFeatureBits(0)).isEqualTo(0x1000_0001);
        assertThat(config.deviceFeatureBits(1)).isEqualTo(0x1000_0001);
        assertThat(config.deviceFeatureBits(2)).isZero();
        assertThat(config.queueCount()).isEqualTo(2);
        assertThat(config.queueMaxSize(1)).isEqualTo(16);
        assertThat(config.queueMaxSize(2)).isZero();
        assertThat(config.configSpaceSize()).isEqualTo(4);
        assertThat(config.sharedMemoryLength(0)).isEqualTo(-1);
        device.writeStatus(0x03);
        config.setDriverFeatureBits(1, 1);
        config.setDriverFeatureBits(0, 1 << 28);
        assertThat(config.driverFeatureBits(0)).isEqualTo(1 << 28);
        device.writeStatus(0x0B);
        assertThat(config.status()).isEqualTo(0x0B);
        config.setDriverFeatureBits(0, 1);
        assertThat(config.driverFeatureBits(0)).as("frozen at FEATURES_OK (FEAT-09)").isEqualTo(1 << 28);
    }

    @Test
    @DisplayName("Default Feature Operations: reserved bits by name from the defaults, device-type bits from the device")
    void featureOperationsNameEveryBit() {
        FeatureOperations features = service.featureOperations(device, List.of(DemoFeature.values()));
        assertThat(features.feature(0)).contains(DemoFeature.DEMO_F_ALPHA);
        assertThat(features.feature(60)).contains(DemoFeature.DEMO_F_OMEGA);
        assertThat(features.feature(28)).contains(ReservedFeature.VIRTIO_F_INDIRECT_DESC);
        assertThat(features.name(5)).isEqualTo("bit 5");
        assertThat(features.offeredFeatures()).extracting(Feature::name)
                .containsExactly("DEMO_F_ALPHA", "VIRTIO_F_INDIRECT_DESC", "VIRTIO_F_VERSION_1", "DEMO_F_OMEGA");
        assertThat(features.isOffered(ReservedFeature.VIRTIO_F_EVENT_IDX)).isFalse();
        assertThat(features.negotiated().isEmpty()).isTrue();
        assertThat(features.knownFeatures()).startsWith(DemoFeature.DEMO_F_ALPHA, DemoFeature.DEMO_F_OMEGA)
                .contains(ReservedFeature.VIRTIO_F_RING_RESET);
    }

    @Test
    @DisplayName("a device-specific feature must lie in a device-type range (0-23, 50-127)")
    void deviceFeaturesOutsideTheirRangeAreRejected() {
        Feature bogus = Feature.unnamed(30);
        assertThatThrownBy(() -> new DefaultFeatureOperations(device, List.of(bogus)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
