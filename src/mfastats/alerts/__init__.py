"""Alert rules of SPEC 4, evaluated as pure functions of the report numbers and history."""
