/*
 * core.h: the wire structs.  Records are packed one after another in a batch, so
 * every struct's size must be a multiple of 8 and every 64-bit field 8-aligned.
 * Checked when this file compiles; the tests repeat it so the report shows it.
 */
#include "core.h"

#include <criterion/criterion.h>
#include <stddef.h>

#define MULTIPLE_OF_8(type) \
    _Static_assert(sizeof(type) % 8 == 0, #type " is not a multiple of 8 bytes")
#define ALIGNED_8(type, field) \
    _Static_assert(offsetof(type, field) % 8 == 0, #type "." #field " is not 8-aligned")

MULTIPLE_OF_8(rmpi_batch_hdr_t);
MULTIPLE_OF_8(rmpi_rec_hdr_t);
MULTIPLE_OF_8(rmpi_wire_id_t);
MULTIPLE_OF_8(rmpi_wire_task_t);
MULTIPLE_OF_8(rmpi_wire_arg_t);
MULTIPLE_OF_8(rmpi_wire_done_t);
MULTIPLE_OF_8(rmpi_wire_ret_t);
MULTIPLE_OF_8(rmpi_wire_resolved_t);
MULTIPLE_OF_8(rmpi_data_hdr_t);

ALIGNED_8(rmpi_wire_task_t, seq);
ALIGNED_8(rmpi_wire_arg_t, size);
ALIGNED_8(rmpi_wire_arg_t, id);
ALIGNED_8(rmpi_wire_done_t, seq);
ALIGNED_8(rmpi_wire_ret_t, size);
ALIGNED_8(rmpi_wire_resolved_t, id);
ALIGNED_8(rmpi_wire_resolved_t, size);
ALIGNED_8(rmpi_data_hdr_t, id);
ALIGNED_8(rmpi_data_hdr_t, size);

/* The executor hands task.c the xnode, which casts it back to the task. */
_Static_assert(offsetof(struct rmpi_task, xn) == 0, "rmpi_task: xn is not the first member");

typedef struct {
    const char *name;
    size_t      size;
} layout_t;

#define ROW(type) {#type, sizeof(type)}
static const layout_t wire[] = {
    ROW(rmpi_batch_hdr_t), ROW(rmpi_rec_hdr_t),  ROW(rmpi_wire_id_t),
    ROW(rmpi_wire_task_t), ROW(rmpi_wire_arg_t), ROW(rmpi_wire_done_t),
    ROW(rmpi_wire_ret_t),  ROW(rmpi_wire_resolved_t), ROW(rmpi_data_hdr_t),
};

Test(layout, wire_structs_are_multiples_of_8)
{
    for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++)
        cr_assert_eq(wire[i].size % 8, 0, "%s is %zu bytes", wire[i].name, wire[i].size);
}

/* No hidden padding: the explicit pad fields fill every gap, so the bytes sent
 * are all initialised when the sender fills every field. */
Test(layout, wire_structs_have_no_implicit_padding)
{
    cr_assert_eq(sizeof(rmpi_batch_hdr_t), 1 + 3 + 4 + 4 + 4 + 4 + 4);
    cr_assert_eq(sizeof(rmpi_rec_hdr_t), 4 + 1 + 3);
    cr_assert_eq(sizeof(rmpi_wire_id_t), 8 + 8);
    cr_assert_eq(sizeof(rmpi_wire_task_t), 8 + 4 + 4 + 2 + 2 + 1 + 3 + 4 + 4 + 8 + 8 + 8);
    cr_assert_eq(sizeof(rmpi_wire_name_req_t), 8 + 1 + 1 + 2 + 4 + 8 + 8);
    cr_assert_eq(sizeof(rmpi_wire_name_rep_t), 8 + 4 + 4 + 8 + 8);
    cr_assert_eq(sizeof(rmpi_wire_arg_t), 1 + 1 + 2 + 4 + 8 + 16);
    cr_assert_eq(sizeof(rmpi_wire_done_t), 8 + 2 + 2 + 4 + 4 + 4);
    cr_assert_eq(sizeof(rmpi_wire_ret_t), 1 + 1 + 2 + 4 + 8);
    cr_assert_eq(sizeof(rmpi_wire_resolved_t), 16 + 4 + 4 + 8 + 1 + 3 + 4);
    cr_assert_eq(sizeof(rmpi_data_hdr_t), 1 + 3 + 4 + 4 + 4 + 16 + 8);
}

Test(layout, record_header_len_field_comes_first)
{
    cr_assert_eq(offsetof(rmpi_rec_hdr_t, len), 0);
    cr_assert_eq(offsetof(rmpi_rec_hdr_t, type), 4);
}

Test(layout, version_byte_leads_batch_and_data_headers)
{
    cr_assert_eq(offsetof(rmpi_batch_hdr_t, version), 0);
    cr_assert_eq(offsetof(rmpi_data_hdr_t, version), 0);
}

Test(layout, record_types_fit_the_type_byte)
{
    cr_assert_lt(REC_MAX, 256);
    cr_assert_eq(REC_TASK, 1, "0 is no record type");
}
