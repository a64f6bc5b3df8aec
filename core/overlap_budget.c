/*
 * overlap_budget.c - the memory budget the counters of one request draw from; see overlap.h.
 */
#include "overlap.h"

void overlap_budget_init(struct overlap_budget *budget, uint64_t limit)
{
    atomic_init(&budget->used, 0);
    atomic_init(&budget->peak, 0);
    budget->limit = limit;
}

uint64_t overlap_budget_peak(const struct overlap_budget *budget)
{
    return atomic_load(&budget->peak);
}

enum error_code overlap_budget_take(struct overlap_budget *budget, uint64_t bytes, const char *what,
                                    struct error_info *err)
{
    if (budget == NULL)
        return ERROR_OK;
    const uint64_t now = atomic_fetch_add(&budget->used, bytes) + bytes;
    if (budget->limit != 0 && (now > budget->limit || now < bytes)) {
        atomic_fetch_sub(&budget->used, bytes);
        return error_set(err, ERROR_TOO_LARGE,
                         "counting the distinct (a, b) label pairs needs more than the memory "
                         "budget of one request: %llu bytes with %llu more for %s, over the "
                         "limit of %llu bytes (max_request_memory)",
                         (unsigned long long)(now - bytes), (unsigned long long)bytes, what,
                         (unsigned long long)budget->limit);
    }
    uint64_t peak = atomic_load(&budget->peak);
    while (now > peak && !atomic_compare_exchange_weak(&budget->peak, &peak, now)) {
    }
    return ERROR_OK;
}

void overlap_budget_give(struct overlap_budget *budget, uint64_t bytes)
{
    if (budget != NULL)
        atomic_fetch_sub(&budget->used, bytes);
}
