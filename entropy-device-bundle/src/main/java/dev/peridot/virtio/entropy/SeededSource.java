package dev.peridot.virtio.entropy;

import java.security.DigestException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * A deterministic, documented byte stream, so that a test — or anyone, with any tool — can
 * reproduce exactly what a guest must have received:
 *
 * <pre>
 *   block(n) = SHA-256( seed as 8 bytes big-endian || n as 8 bytes big-endian ),  n = 0, 1, 2, ...
 *   stream   = block(0) || block(1) || block(2) || ...
 * </pre>
 *
 * For example with seed 1 the stream starts with SHA-256 of the 16 bytes
 * {@code 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00}. Not random in any cryptographic
 * sense: for tests only. Generating allocates nothing.
 */
public final class SeededSource implements EntropySource {

    /** SHA-256 output size: the bytes each block adds to the stream. */
    public static final int BLOCK_SIZE = 32;

    private final long seed;
    private final MessageDigest sha256;
    private final byte[] input = new byte[16];
    private final byte[] block = new byte[BLOCK_SIZE];
    private long counter;
    /** Bytes of {@link #block} already handed out; BLOCK_SIZE means the next block is due. */
    private int used = BLOCK_SIZE;
    private long position;

    public SeededSource(long seed) {
        this.seed = seed;
        try {
            this.sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform must provide SHA-256", e);
        }
        putLong(input, 0, seed);
    }

    /** The seed. */
    public long seed() {
        return seed;
    }

    /** How many bytes of the stream were handed out so far. */
    public long position() {
        return position;
    }

    @Override
    public void fill(byte[] buffer, int offset, int length) {
        int done = 0;
        while (done < length) {
            if (used == BLOCK_SIZE) {
                nextBlock();
            }
            int n = Math.min(length - done, BLOCK_SIZE - used);
            System.arraycopy(block, used, buffer, offset + done, n);
            used += n;
            done += n;
        }
        position += length;
    }

    private void nextBlock() {
        putLong(input, 8, counter++);
        sha256.update(input, 0, input.length);
        try {
            sha256.digest(block, 0, BLOCK_SIZE);
        } catch (DigestException e) {
            throw new IllegalStateException(e);
        }
        used = 0;
    }

    private static void putLong(byte[] b, int at, long value) {
        for (int i = 7; i >= 0; i--) {
            b[at + i] = (byte) value;
            value >>>= 8;
        }
    }

    /** The first {@code length} bytes of the stream for {@code seed} (for checking what a guest received). */
    public static byte[] stream(long seed, int length) {
        byte[] out = new byte[length];
        new SeededSource(seed).fill(out, 0, length);
        return out;
    }

    @Override
    public String describe() {
        return "seeded(" + seed + ")";
    }
}
