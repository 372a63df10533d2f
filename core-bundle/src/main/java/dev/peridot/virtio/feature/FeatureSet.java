package dev.peridot.virtio.feature;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.IntFunction;

/**
 * An immutable set of feature bits 0 to 127 (spec 2.2: "at least 128 bits" are possible with
 * the 32-bit selector windows of the transports).
 *
 * <p>Words are the 32-bit windows the MMIO DeviceFeatures/DriverFeatures registers expose:
 * word {@code n} holds bits {@code 32*n} to {@code 32*n+31}.
 */
public final class FeatureSet {

    /** The number of bits a set can hold. */
    public static final int MAX_BITS = 128;
    /** The number of 32-bit words ({@link #word(int)}). */
    public static final int WORDS = MAX_BITS / 32;

    /** The set without any bit. */
    public static final FeatureSet EMPTY = new FeatureSet(0L, 0L);

    private final long low;
    private final long high;

    private FeatureSet(long low, long high) {
        this.low = low;
        this.high = high;
    }

    /** The set from its two 64-bit halves: bits 0-63 and 64-127. */
    public static FeatureSet ofLongs(long low, long high) {
        return (low == 0 && high == 0) ? EMPTY : new FeatureSet(low, high);
    }

    /** The set of the given bits. */
    public static FeatureSet of(int... bits) {
        long lo = 0;
        long hi = 0;
        for (int bit : bits) {
            checkBit(bit);
            if (bit < 64) {
                lo |= 1L << bit;
            } else {
                hi |= 1L << (bit - 64);
            }
        }
        return ofLongs(lo, hi);
    }

    /** The set of the given features. */
    public static FeatureSet of(Feature... features) {
        FeatureSet set = EMPTY;
        for (Feature f : features) {
            set = set.with(f.bit());
        }
        return set;
    }

    /** The set of the given features. */
    public static FeatureSet of(Collection<? extends Feature> features) {
        FeatureSet set = EMPTY;
        for (Feature f : features) {
            set = set.with(f.bit());
        }
        return set;
    }

    static void checkBit(int bit) {
        if (bit < 0 || bit >= MAX_BITS) {
            throw new IllegalArgumentException("feature bit out of range 0-127: " + bit);
        }
    }

    /** Bits 0 to 63. */
    public long low() {
        return low;
    }

    /** Bits 64 to 127. */
    public long high() {
        return high;
    }

    /** Whether the bit is set; false for bits outside 0-127. */
    public boolean contains(int bit) {
        if (bit < 0 || bit >= MAX_BITS) {
            return false;
        }
        return bit < 64 ? (low & (1L << bit)) != 0 : (high & (1L << (bit - 64))) != 0;
    }

    /** Whether the feature's bit is set. */
    public boolean contains(Feature feature) {
        return contains(feature.bit());
    }

    /** Whether every bit of this set is also in {@code other}. */
    public boolean isSubsetOf(FeatureSet other) {
        return (low & ~other.low) == 0 && (high & ~other.high) == 0;
    }

    /** This set with the bit added. */
    public FeatureSet with(int bit) {
        checkBit(bit);
        return bit < 64 ? ofLongs(low | (1L << bit), high) : ofLongs(low, high | (1L << (bit - 64)));
    }

    /** This set with the feature added. */
    public FeatureSet with(Feature feature) {
        return with(feature.bit());
    }

    /** This set without the bit. */
    public FeatureSet without(int bit) {
        checkBit(bit);
        return bit < 64 ? ofLongs(low & ~(1L << bit), high) : ofLongs(low, high & ~(1L << (bit - 64)));
    }

    /** This set without the feature. */
    public FeatureSet without(Feature feature) {
        return without(feature.bit());
    }

    /** The bits in this set or in {@code other}. */
    public FeatureSet union(FeatureSet other) {
        return ofLongs(low | other.low, high | other.high);
    }

    /** The bits in both sets. */
    public FeatureSet intersection(FeatureSet other) {
        return ofLongs(low & other.low, high & other.high);
    }

    /** The bits of this set that are not in {@code other}. */
    public FeatureSet minus(FeatureSet other) {
        return ofLongs(low & ~other.low, high & ~other.high);
    }

    /** Whether no bit is set. */
    public boolean isEmpty() {
        return low == 0 && high == 0;
    }

    /** The number of bits set. */
    public int count() {
        return Long.bitCount(low) + Long.bitCount(high);
    }

    /**
     * The 32-bit window {@code index} (bits {@code 32*index} to {@code 32*index+31}); 0 for
     * windows beyond the set, so a transport can answer any selector value.
     */
    public int word(int index) {
        return switch (index) {
            case 0 -> (int) low;
            case 1 -> (int) (low >>> 32);
            case 2 -> (int) high;
            case 3 -> (int) (high >>> 32);
            default -> 0;
        };
    }

    /**
     * This set with window {@code index} replaced by {@code value}. Windows beyond the set
     * cannot hold bits: a non-zero value there is reported by returning {@code null}, so the
     * caller can treat it as the driver accepting a feature that was never offered.
     */
    public FeatureSet withWord(int index, int value) {
        long v = value & 0xFFFF_FFFFL;
        return switch (index) {
            case 0 -> ofLongs((low & 0xFFFF_FFFF_0000_0000L) | v, high);
            case 1 -> ofLongs((low & 0x0000_0000_FFFF_FFFFL) | (v << 32), high);
            case 2 -> ofLongs(low, (high & 0xFFFF_FFFF_0000_0000L) | v);
            case 3 -> ofLongs(low, (high & 0x0000_0000_FFFF_FFFFL) | (v << 32));
            default -> value == 0 ? this : null;
        };
    }

    /** The bits set, in ascending order. */
    public int[] bits() {
        int[] result = new int[count()];
        int i = 0;
        for (int bit = 0; bit < MAX_BITS; bit++) {
            if (contains(bit)) {
                result[i++] = bit;
            }
        }
        return result;
    }

    /** The bits of this set as features, named by {@code namer} (which may return null for unknown bits). */
    public List<Feature> features(IntFunction<? extends Feature> namer) {
        List<Feature> result = new ArrayList<>(count());
        for (int bit : bits()) {
            Feature f = namer.apply(bit);
            result.add(f != null ? f : Feature.unnamed(bit));
        }
        return result;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FeatureSet other && other.low == low && other.high == high;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(low) * 31 + Long.hashCode(high);
    }

    /** The set as hexadecimal words, highest first, for example {@code 0x00000101_30000006}. */
    @Override
    public String toString() {
        if (high == 0) {
            return String.format("0x%08x_%08x", word(1), word(0));
        }
        return String.format("0x%08x_%08x_%08x_%08x", word(3), word(2), word(1), word(0));
    }
}
