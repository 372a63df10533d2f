/**
 * 'Default Config Operations' and 'Default Feature Operations' (VD01 §5): the common part of
 * {@link dev.peridot.virtio.device.ConfigOperations} and
 * {@link dev.peridot.virtio.device.FeatureOperations} that every device reuses. Use them by
 * composition, or get them from the {@link DefaultOperations} service, which ties a device's
 * life to this bundle's.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.defaults;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
