/**
 * Guest memory: bounds-checked little-endian access to guest-physical addresses across one or
 * more regions. A device reaches guest memory only through {@link GuestMemory}; an access
 * outside every region is a {@link GuestMemoryException} the caller handles.
 */
@Export
@Version("1.0.0")
package dev.peridot.virtio.memory;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
