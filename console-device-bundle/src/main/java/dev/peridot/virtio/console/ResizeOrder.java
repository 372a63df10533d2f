package dev.peridot.virtio.console;

/**
 * The order of the two fields that follow a VIRTIO_CONSOLE_RESIZE control message header.
 * The spec (5.3.6.2) says {@code struct virtio_console_resize { le16 cols; le16 rows; }};
 * older Linux kernels parsed the payload as rows first, so the order is an option.
 */
public enum ResizeOrder {

    /** The spec's order: cols, then rows (the default). */
    COLS_ROWS,
    /** rows, then cols, for guests whose driver reads the fields in that order. */
    ROWS_COLS;

    /** Parses {@code cols_rows} or {@code rows_cols} (case-insensitive, '-' accepted for '_'). */
    public static ResizeOrder parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        return switch (t) {
            case "cols_rows", "" -> COLS_ROWS;
            case "rows_cols" -> ROWS_COLS;
            default -> throw new IllegalArgumentException("resize order must be 'cols_rows' or 'rows_cols', not '" + text + "'");
        };
    }

    /** The configuration spelling. */
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
