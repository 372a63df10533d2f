package dev.peridot.virtio.entropy;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Where an {@link EntropyDevice} takes its bytes from. Called on the device's worker thread
 * only, so an implementation needs no locking; it should not block for long (the guest waits).
 */
@ConsumerType
public interface EntropySource {

    /** Fills {@code buffer[offset..offset+length)} with the next {@code length} bytes. */
    void fill(byte[] buffer, int offset, int length);

    /** A short description for logs and the shell, e.g. {@code SecureRandom(NativePRNG)}. */
    String describe();
}
