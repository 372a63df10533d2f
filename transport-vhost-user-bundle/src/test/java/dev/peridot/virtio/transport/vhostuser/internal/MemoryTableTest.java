package dev.peridot.virtio.transport.vhostuser.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** SET_MEM_TABLE parsing and the user-to-guest address translation of SET_VRING_ADDR. */
class MemoryTableTest {

    /** The layout QEMU sent in the reference run: low RAM below 0xf0000, the rest from 1 MiB. */
    private static final List<MemoryTable.Region> QEMU_LIKE = List.of(
            new MemoryTable.Region(0, 0xf0000, 0x7f00_0000_0000L, 0),
            new MemoryTable.Region(0x100000, 0xff00000, 0x7f00_0010_0000L, 0x100000));

    private static ByteBuffer payload(long... quads) {
        ByteBuffer b = ByteBuffer.allocate(8 + 8 * quads.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, quads.length / 4);
        for (int i = 0; i < quads.length; i++) {
            b.putLong(8 + 8 * i, quads[i]);
        }
        return b;
    }

    @Test
    void parsesRegions() throws Exception {
        List<MemoryTable.Region> regions = MemoryTable.parse(payload(0, 0xf0000, 0x7f0000000000L, 0,
                0x100000, 0xff00000, 0x7f0000100000L, 0x100000));
        assertThat(regions).isEqualTo(QEMU_LIKE);
    }

    @Test
    void refusesEmptyWrappingAndOverlappingRegions() {
        assertThatThrownBy(() -> MemoryTable.parse(payload(0, 0, 0x1000, 0))).hasMessageContaining("no size");
        assertThatThrownBy(() -> MemoryTable.parse(payload(Long.MAX_VALUE - 10, 0x1000, 0x1000, 0))).hasMessageContaining("wraps the guest");
        assertThatThrownBy(() -> MemoryTable.parse(payload(0, 0x1000, -0x10L, 0))).hasMessageContaining("wraps the user");
        assertThatThrownBy(() -> MemoryTable.parse(payload(0, 0x1000, 0x1000, Long.MAX_VALUE))).hasMessageContaining("file offset");
        assertThatThrownBy(() -> MemoryTable.parse(payload(0, 0x2000, 0x10000, 0, 0x1000, 0x1000, 0x20000, 0)))
                .hasMessageContaining("overlap in guest");
        assertThatThrownBy(() -> MemoryTable.parse(payload(0, 0x2000, 0x10000, 0, 0x4000, 0x1000, 0x11000, 0)))
                .hasMessageContaining("overlap in user");
    }

    @Test
    void translatesUserAddressesInsideOneRegion() {
        assertThat(MemoryTable.translate(QEMU_LIKE, 0x7f00_0000_1000L, 16)).isEqualTo(0x1000);
        assertThat(MemoryTable.translate(QEMU_LIKE, 0x7f00_0010_0000L + 0x5000, 0x4000)).isEqualTo(0x105000);
        // The last byte of a region is fine; one past it is not.
        assertThat(MemoryTable.translate(QEMU_LIKE, 0x7f00_0000_0000L + 0xf0000 - 1, 1)).isEqualTo(0xeffff);
        assertThat(MemoryTable.translate(QEMU_LIKE, 0x7f00_0000_0000L + 0xf0000 - 8, 16)).as("spans the end").isEqualTo(-1);
        assertThat(MemoryTable.translate(QEMU_LIKE, 0x7f00_0000_0000L + 0xf8000, 16)).as("in the hole").isEqualTo(-1);
        assertThat(MemoryTable.translate(QEMU_LIKE, 0x1000, 16)).as("a guest address is not a user address").isEqualTo(-1);
        assertThat(MemoryTable.translate(QEMU_LIKE, -1L, 2)).as("top of the address space").isEqualTo(-1);
    }

    @Test
    void guestMemoryOverTheRegionsIsByGuestAddress() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            List<MemoryTable.Region> regions = List.of(new MemoryTable.Region(0x10000, 0x1000, 0x7000_0000L, 0),
                    new MemoryTable.Region(0x20000, 0x1000, 0x7000_1000L, 0));
            MemoryTable table = MemoryTable.over(regions, List.of(arena.allocate(0x1000), arena.allocate(0x1000)));
            table.guestMemory().writeInt(0x20010, 0xCAFE);
            assertThat(table.guestMemory().readInt(table.userToGuest(0x7000_1010L, 4))).isEqualTo(0xCAFE);
            assertThat(table.guestMemory().isValid(0x10fff, 2)).as("hole between the regions").isFalse();
        }
    }
}
