/* Status strings, generated from the one list in raympi.h. */
#include "raympi.h"

const char *rmpi_status_string(int status)
{
    switch (status) {
#define RMPI_STATUS_CASE_(name, value, text) case value: return #name ": " text;
    RMPI_STATUS_LIST(RMPI_STATUS_CASE_)
#undef RMPI_STATUS_CASE_
    default:
        return "RMPI_ERR_UNKNOWN: unknown status code";
    }
}
