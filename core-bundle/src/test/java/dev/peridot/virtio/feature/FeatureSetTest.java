package dev.peridot.virtio.feature;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class FeatureSetTest {

    @Test
    @DisplayName("MMIO-07: 32-bit windows of a 128-bit set; windows beyond the set read 0")
    void wordsSelectBitsBy32BitWindow() {
        FeatureSet set = FeatureSet.of(1, 28, 29, 32, 40, 64, 127);
        assertThat(set.word(0)).isEqualTo(0x3000_0002);
        assertThat(set.word(1)).isEqualTo(0x0000_0101);
        assertThat(set.word(2)).isEqualTo(1);
        assertThat(set.word(3)).isEqualTo(0x8000_0000);
        assertThat(set.word(4)).isZero();
        assertThat(set.word(-1)).isZero();
        assertThat(set.word(Integer.MAX_VALUE)).isZero();
    }

    @Test
    @DisplayName("MMIO-08: writing a window replaces exactly that window")
    void withWordReplacesOneWindow() {
        FeatureSet set = FeatureSet.of(0, 33, 70, 100);
        FeatureSet changed = set.withWord(1, 0x4);
        assertThat(changed.contains(34)).isTrue();
        assertThat(changed.contains(33)).isFalse();
        assertThat(changed.contains(0)).isTrue();
        assertThat(changed.contains(70)).isTrue();
        assertThat(changed.withWord(3, 0).contains(100)).isFalse();
    }

    @Test
    @DisplayName("FEAT-07: a non-zero window beyond bit 127 cannot be represented and is reported")
    void nonZeroWindowBeyondRangeIsReported() {
        assertThat(FeatureSet.EMPTY.withWord(4, 1)).isNull();
        assertThat(FeatureSet.EMPTY.withWord(4, 0)).isSameAs(FeatureSet.EMPTY);
    }

    @Test
    void setAlgebra() {
        FeatureSet a = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1, ReservedFeature.VIRTIO_F_EVENT_IDX);
        FeatureSet b = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1);
        assertThat(b.isSubsetOf(a)).isTrue();
        assertThat(a.isSubsetOf(b)).isFalse();
        assertThat(a.minus(b)).isEqualTo(FeatureSet.of(29));
        assertThat(a.union(FeatureSet.of(127)).count()).isEqualTo(3);
        assertThat(a.intersection(b)).isEqualTo(b);
        assertThat(a.bits()).containsExactly(29, 32);
        assertThat(a.without(29)).isEqualTo(b);
        assertThat(FeatureSet.ofLongs(a.low(), a.high())).isEqualTo(a).hasSameHashCodeAs(a);
        assertThat(a.toString()).isEqualTo("0x00000001_20000000");
    }

    @Test
    void bitsOutsideTheRangeAreRejectedOnWriteAndAbsentOnRead() {
        assertThatThrownBy(() -> FeatureSet.of(128)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FeatureSet.of(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(FeatureSet.of(1).contains(128)).isFalse();
        assertThat(FeatureSet.of(1).contains(-5)).isFalse();
    }

    @Test
    @DisplayName("FEAT-01: device-type ranges 0-23 and 50-127, reserved 24-49")
    void ranges() {
        assertThat(ReservedFeature.isDeviceTypeBit(0)).isTrue();
        assertThat(ReservedFeature.isDeviceTypeBit(23)).isTrue();
        assertThat(ReservedFeature.isDeviceTypeBit(24)).isFalse();
        assertThat(ReservedFeature.isDeviceTypeBit(49)).isFalse();
        assertThat(ReservedFeature.isDeviceTypeBit(50)).isTrue();
        assertThat(ReservedFeature.isDeviceTypeBit(127)).isTrue();
        assertThat(ReservedFeature.ofBit(40)).contains(ReservedFeature.VIRTIO_F_RING_RESET);
        assertThat(ReservedFeature.ofBit(41)).isEmpty();
    }

    @Test
    void namesEveryBitOfChapter6() {
        assertThat(ReservedFeature.values()).extracting(ReservedFeature::bit)
                .containsExactly(24, 27, 28, 29, 30, 32, 33, 34, 35, 36, 37, 38, 39, 40);
        assertThat(FeatureSet.of(28, 45).features(b -> ReservedFeature.ofBit(b).orElse(null)))
                .extracting(Feature::name).containsExactly("VIRTIO_F_INDIRECT_DESC", "bit 45");
    }
}
