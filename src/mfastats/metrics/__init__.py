"""Pure computations over the rows the sources return: no I/O, no clock (time comes in as `as_of`)."""
