package dev.peridot.virtio.feature;

/**
 * A named feature bit. Device types define their own bits (for the console: bits 0-2) by
 * implementing this interface, usually with an enum; the device-independent bits are the
 * {@link ReservedFeature}s.
 */
public interface Feature {

    /** The bit number, 0 to {@value FeatureSet#MAX_BITS} - 1. */
    int bit();

    /** The name the spec gives the bit, for example {@code VIRTIO_F_VERSION_1}. */
    String name();

    /** A feature without a known name, shown as {@code bit N}. */
    static Feature unnamed(int bit) {
        FeatureSet.checkBit(bit);
        return new Unnamed(bit);
    }

    /** The name of a bit that nobody defines. */
    record Unnamed(int bit) implements Feature {
        @Override
        public String name() {
            return "bit " + bit;
        }
    }
}
