/**
 * Feature bits (spec 2.2 and chapter 6 "Reserved Feature Bits"): a 128-bit {@link FeatureSet},
 * the {@link Feature} naming contract and the device-independent {@link ReservedFeature}s.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.feature;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
