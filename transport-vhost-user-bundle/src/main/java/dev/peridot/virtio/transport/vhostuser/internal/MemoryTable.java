package dev.peridot.virtio.transport.vhostuser.internal;

import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.memory.MemoryRegion;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The front-end's memory table (SET_MEM_TABLE): for each region its guest-physical address,
 * size, the front-end's own virtual ("user") address and the offset in the file descriptor.
 * The regions are mapped shared into this process and exposed as {@link GuestMemory} by guest
 * address; ring addresses, which the front-end gives as its user addresses (SET_VRING_ADDR),
 * are translated to guest addresses here.
 *
 * <p>All mappings belong to one shared arena; {@link #close()} unmaps them. Closing a shared
 * arena is safe while another thread might still touch a segment: that access fails with an
 * exception the core turns into a guest-memory error, never a crash.
 */
// Restricted FFM methods (downcalls, reinterpret) are the point of this class; the runtime
// grants native access (--enable-native-access=ALL-UNNAMED, toolchain.md pitfall 3).
@SuppressWarnings("restricted")
public final class MemoryTable implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(MemoryTable.class.getName());

    /** One region as the front-end described it. */
    public record Region(long guestAddress, long size, long userAddress, long mmapOffset) {

        /** Whether {@code [userAddr, userAddr + length)} lies in this region (overflow-safe). */
        boolean containsUser(long userAddr, long length) {
            return Long.compareUnsigned(userAddr, userAddress) >= 0
                    && Long.compareUnsigned(userAddr - userAddress, size) < 0
                    && Long.compareUnsigned(length, size - (userAddr - userAddress)) <= 0;
        }

        @Override
        public String toString() {
            return String.format("{gpa 0x%x, size 0x%x, user 0x%x, mmap offset 0x%x}", guestAddress, size, userAddress,
                    mmapOffset);
        }
    }

    private final List<Region> regions;
    private final Arena arena;
    private final SegmentGuestMemory memory;

    private MemoryTable(List<Region> regions, Arena arena, SegmentGuestMemory memory) {
        this.regions = List.copyOf(regions);
        this.arena = arena;
        this.memory = memory;
    }

    /**
     * Parses the regions of a SET_MEM_TABLE payload ({@code u32 nregions, u32 padding}, then
     * per region {@code u64 guest_phys_addr, memory_size, userspace_addr, mmap_offset}) and
     * checks them: non-empty, no address range that wraps around, no two regions overlapping in
     * guest or user addresses.
     */
    public static List<Region> parse(ByteBuffer payload) throws ProtocolException {
        int count = payload.getInt(0);
        if (count < 1 || count > VhostUserProtocol.MAX_MEMORY_REGIONS
                || payload.limit() != 8 + count * VhostUserProtocol.MEMORY_REGION_SIZE) {
            throw new ProtocolException("SET_MEM_TABLE: bad region count " + Integer.toUnsignedString(count));
        }
        List<Region> result = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int o = 8 + i * VhostUserProtocol.MEMORY_REGION_SIZE;
            Region r = new Region(payload.getLong(o), payload.getLong(o + 8), payload.getLong(o + 16), payload.getLong(o + 24));
            if (r.size() <= 0) {
                throw new ProtocolException("SET_MEM_TABLE: region " + i + " " + r + " has no size (or one beyond 2^63)");
            }
            if (r.guestAddress() < 0 || r.guestAddress() > Long.MAX_VALUE - r.size()) {
                throw new ProtocolException("SET_MEM_TABLE: region " + i + " " + r + " wraps the guest address space");
            }
            if (Long.compareUnsigned(r.userAddress(), -1L - r.size()) > 0) {
                throw new ProtocolException("SET_MEM_TABLE: region " + i + " " + r + " wraps the user address space");
            }
            if (r.mmapOffset() < 0 || r.mmapOffset() > Long.MAX_VALUE - r.size()) {
                throw new ProtocolException("SET_MEM_TABLE: region " + i + " " + r + " has an impossible file offset");
            }
            for (int j = 0; j < i; j++) {
                Region o2 = result.get(j);
                if (r.guestAddress() < o2.guestAddress() + o2.size() && o2.guestAddress() < r.guestAddress() + r.size()) {
                    throw new ProtocolException("SET_MEM_TABLE: regions " + j + " " + o2 + " and " + i + " " + r
                            + " overlap in guest addresses");
                }
                if (Long.compareUnsigned(r.userAddress(), o2.userAddress() + o2.size()) < 0
                        && Long.compareUnsigned(o2.userAddress(), r.userAddress() + r.size()) < 0) {
                    throw new ProtocolException("SET_MEM_TABLE: regions " + j + " " + o2 + " and " + i + " " + r
                            + " overlap in user addresses");
                }
            }
            result.add(r);
        }
        return result;
    }

    /**
     * Maps every region from its descriptor ({@code fds[i]} for region {@code i}) shared and
     * read-write. A region must lie inside its file: mmap accepts a range beyond the end of the
     * file, but the first access there raises SIGBUS, which the JVM turns into an
     * {@link InternalError} in whichever thread touches it (found by fuzzing: a front-end's
     * SET_MEM_TABLE with an offset at the end of its memfd killed the connection thread on the
     * next ring start). The descriptors are not closed here (the mapping outlives them; the
     * caller closes them). On failure nothing stays mapped.
     */
    public static MemoryTable map(List<Region> regions, int[] fds) throws IOException {
        Arena arena = Arena.ofShared();
        try {
            List<MemoryRegion> mapped = new ArrayList<>(regions.size());
            for (int i = 0; i < regions.size(); i++) {
                Region r = regions.get(i);
                long fileSize = Native.fileSize(fds[i]);
                if (r.mmapOffset() > fileSize || r.size() > fileSize - r.mmapOffset()) {
                    throw new IOException(String.format("region %d %s reaches beyond the end of its file (%d bytes)", i,
                            r, fileSize));
                }
                // mmap needs a page-aligned offset: map from the page start and skip the rest.
                long lead = r.mmapOffset() & (Native.PAGE_SIZE - 1);
                long length = r.size() + lead;
                long address = Native.mapShared(fds[i], r.mmapOffset() - lead, length);
                MemorySegment whole = MemorySegment.ofAddress(address)
                        .reinterpret(length, arena, s -> Native.unmap(address, length));
                mapped.add(new MemoryRegion(r.guestAddress(), whole.asSlice(lead, r.size()), "region" + i));
            }
            return new MemoryTable(regions, arena, SegmentGuestMemory.of(mapped));
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * A table over segments the caller provides, in region order (for tests of the translation
     * and of devices without a front-end's descriptors). {@link #close()} does not free them.
     */
    public static MemoryTable over(List<Region> regions, List<MemorySegment> segments) {
        List<MemoryRegion> mapped = new ArrayList<>(regions.size());
        for (int i = 0; i < regions.size(); i++) {
            mapped.add(new MemoryRegion(regions.get(i).guestAddress(), segments.get(i).asSlice(0, regions.get(i).size()),
                    "region" + i));
        }
        return new MemoryTable(regions, null, SegmentGuestMemory.of(mapped));
    }

    public List<Region> regions() {
        return regions;
    }

    public GuestMemory guestMemory() {
        return memory;
    }

    /**
     * The guest-physical address of the front-end user address {@code userAddress}, if
     * {@code [userAddress, userAddress + length)} lies inside one region; otherwise -1.
     */
    public long userToGuest(long userAddress, long length) {
        return translate(regions, userAddress, length);
    }

    /** {@link #userToGuest} over a region list (no mapping needed). */
    public static long translate(List<Region> regions, long userAddress, long length) {
        if (length < 0) {
            return -1;
        }
        for (Region r : regions) {
            if (r.containsUser(userAddress, length)) {
                return r.guestAddress() + (userAddress - r.userAddress());
            }
        }
        return -1;
    }

    /** Unmaps the regions. */
    @Override
    public void close() {
        if (arena != null && arena.scope().isAlive()) {
            try {
                arena.close();
            } catch (IllegalStateException e) {
                LOG.log(System.Logger.Level.WARNING, "guest memory still in use while unmapping: " + e.getMessage());
            }
        }
    }

    @Override
    public String toString() {
        return "MemoryTable" + regions;
    }
}
