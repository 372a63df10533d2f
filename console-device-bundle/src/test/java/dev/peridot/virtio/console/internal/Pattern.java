package dev.peridot.virtio.console.internal;

/**
 * A reproducible byte stream: byte {@code p} is a function of the seed and {@code p}, so a
 * receiver can check every byte it gets against the position it expects (nothing lost,
 * duplicated or reordered) without keeping the data.
 */
final class Pattern {

    private final long seed;

    Pattern(long seed) {
        this.seed = seed;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    byte at(long position) {
        return (byte) (mix(seed + (position >>> 3) * 0x9E3779B97F4A7C15L) >>> ((position & 7) * 8));
    }

    /** {@code length} bytes of the stream from {@code position}. */
    byte[] chunk(long position, int length) {
        byte[] b = new byte[length];
        fill(b, 0, length, position);
        return b;
    }

    void fill(byte[] b, int off, int len, long position) {
        int i = 0;
        while (i < len) {
            long p = position + i;
            long word = mix(seed + (p >>> 3) * 0x9E3779B97F4A7C15L);
            for (int k = (int) (p & 7); k < 8 && i < len; k++, i++) {
                b[off + i] = (byte) (word >>> (k * 8));
            }
        }
    }

    /** Checks arriving bytes against the stream. Not thread-safe: one receiver. */
    final class Verifier {
        private long position;
        private final byte[] expected = new byte[256 * 1024];

        void accept(byte[] data, int off, int len) {
            int done = 0;
            while (done < len) {
                int n = Math.min(expected.length, len - done);
                fill(expected, 0, n, position);
                for (int i = 0; i < n; i++) {
                    if (expected[i] != data[off + done + i]) {
                        throw new AssertionError("stream differs at byte " + (position + i) + ": expected "
                                + expected[i] + ", got " + data[off + done + i]);
                    }
                }
                position += n;
                done += n;
            }
        }

        void accept(byte[] data) {
            accept(data, 0, data.length);
        }

        long position() {
            return position;
        }
    }

    Verifier verifier() {
        return new Verifier();
    }
}
