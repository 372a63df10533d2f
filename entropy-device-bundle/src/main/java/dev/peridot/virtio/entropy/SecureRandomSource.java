package dev.peridot.virtio.entropy;

import java.security.SecureRandom;
import java.util.Objects;

/** Bytes from a {@link SecureRandom}: the default source, for real guests. */
public final class SecureRandomSource implements EntropySource {

    private final SecureRandom random;

    /** The platform's default SecureRandom (on Linux, NativePRNG: {@code /dev/urandom} mixed with SHA1PRNG). */
    public SecureRandomSource() {
        this(new SecureRandom());
    }

    public SecureRandomSource(SecureRandom random) {
        this.random = Objects.requireNonNull(random, "random");
    }

    @Override
    public void fill(byte[] buffer, int offset, int length) {
        if (offset == 0 && length == buffer.length) {
            random.nextBytes(buffer);
            return;
        }
        byte[] part = new byte[length];
        random.nextBytes(part);
        System.arraycopy(part, 0, buffer, offset, length);
    }

    @Override
    public String describe() {
        return "SecureRandom(" + random.getAlgorithm() + ")";
    }
}
