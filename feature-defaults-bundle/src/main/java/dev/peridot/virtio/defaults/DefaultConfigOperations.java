package dev.peridot.virtio.defaults;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.VirtioDevice;
import java.util.Objects;

/**
 * 'Default Config Operations' ({@code default_virtio_device_config_ops}, VD01 §5): raw access to
 * the parameters of a {@link VirtioDevice}. Feature words are the device's presented offer and
 * the driver's accepted words; the rules for when the driver may write them live in the device.
 * A specific device that has extra raw parameters wraps this class and adds them.
 */
public final class DefaultConfigOperations implements ConfigOperations {

    private final VirtioDevice device;

    public DefaultConfigOperations(VirtioDevice device) {
        this.device = Objects.requireNonNull(device, "device");
    }

    @Override
    public int deviceId() {
        return device.deviceId();
    }

    @Override
    public int vendorId() {
        return device.vendorId();
    }

    @Override
    public int deviceFeatureBits(int select) {
        return device.presentedFeatures().word(select);
    }

    @Override
    public int driverFeatureBits(int select) {
        return device.driverFeatureWord(select);
    }

    @Override
    public void setDriverFeatureBits(int select, int bits) {
        device.setDriverFeatureWord(select, bits);
    }

    @Override
    public int status() {
        return device.status();
    }

    @Override
    public boolean isResetUnderway() {
        return device.isResetUnderway();
    }

    @Override
    public int configSpaceSize() {
        return device.configSpaceSize();
    }

    @Override
    public int configGeneration() {
        return device.configGeneration();
    }

    @Override
    public int queueCount() {
        return device.queueCount();
    }

    @Override
    public int queueMaxSize(int queue) {
        return device.queueMaxSize(queue);
    }

    @Override
    public boolean isQueueReady(int queue) {
        return device.isQueueReady(queue);
    }

    @Override
    public boolean isQueueResetInProgress(int queue) {
        return device.isQueueResetInProgress(queue);
    }
}
