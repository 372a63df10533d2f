package dev.peridot.virtio.device;

/**
 * 'Config Operations' (VD01 §4.1, {@code virtio_device_config_ops}): raw access to every
 * parameter of a 'Virtio Device', without interpretation. The 'Device Config Space' of a
 * transport is the consumer: it maps registers onto these calls.
 *
 * <p>Feature bits are exchanged as 32-bit words selected by index, exactly as the MMIO
 * DeviceFeatures/DriverFeatures registers carry them; {@link FeatureOperations} is the
 * interpreting view.
 *
 * <p>Every method may be called from any thread (a vCPU thread of the VMM) and returns
 * without waiting for device work.
 */
public interface ConfigOperations {

    /** The device type (spec 5), see {@link DeviceType}. */
    int deviceId();

    /** The vendor ID the transport shows. */
    int vendorId();

    /** Word {@code select} of the offered features; 0 for words beyond the feature range. */
    int deviceFeatureBits(int select);

    /** Word {@code select} of the features the driver has accepted so far. */
    int driverFeatureBits(int select);

    /**
     * Sets word {@code select} of the features the driver accepts. Ignored once FEATURES_OK has
     * been accepted (the negotiated set is frozen, spec 3.1.1 step 5) or while a reset is
     * underway. Bits that were not offered are kept, so that FEATURES_OK can refuse them.
     */
    void setDriverFeatureBits(int select, int bits);

    /**
     * The device status field. While a reset is underway it still shows the value from before
     * the reset (VD01 §2.2, RESET_UNDERWAY), and reads 0 once the reset has finished.
     */
    int status();

    /** Whether a reset requested by the driver has not finished yet. */
    boolean isResetUnderway();

    /** The size in bytes of the device-specific configuration space. */
    int configSpaceSize();

    /** The configuration generation (spec 2.5.1): changes on every device-side configuration change. */
    int configGeneration();

    /** The number of virtqueues the device has. */
    int queueCount();

    /**
     * The maximum size of queue {@code queue}, or 0 if the queue does not exist or is not
     * available with the current features (MMIO QueueNumMax).
     */
    int queueMaxSize(int queue);

    /**
     * Whether the queue is enabled (MMIO QueueReady). A queue that is being disabled still
     * reads as ready until the device has stopped accessing it (spec 4.2.2.2).
     */
    boolean isQueueReady(int queue);

    /** Whether a reset of this one queue is in progress (MMIO QueueReset reads 1). */
    boolean isQueueResetInProgress(int queue);

    /** The length of shared memory region {@code id} (spec 2.10), or -1 if there is no such region. */
    default long sharedMemoryLength(int id) {
        return -1L;
    }

    /** The base address of shared memory region {@code id}, or -1 (all ones) if there is no such region. */
    default long sharedMemoryBase(int id) {
        return -1L;
    }
}
