package dev.peridot.virtio.testkit;

/** The device did not behave as a driver needs (not a virtio device, refused features, no completion in time). */
public final class DriverException extends RuntimeException {

    public DriverException(String message) {
        super(message);
    }
}
