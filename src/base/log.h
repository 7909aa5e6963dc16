/* Level-checked log macros: "[host:rank module] level: message" on stderr. */
#ifndef RMPI_BASE_LOG_H
#define RMPI_BASE_LOG_H

enum {
    RMPI_LOG_ERROR = 0,
    RMPI_LOG_WARN  = 1,
    RMPI_LOG_INFO  = 2,
    RMPI_LOG_DEBUG = 3,
    RMPI_LOG_TRACE = 4
};

extern int rmpi__log_level;

/* Set once the rank is known; -1 before. */
void rmpi__log_set_rank(int rank);
void rmpi__log_emit(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define RMPI_LOG(level, module, ...)                                                 \
    do {                                                                             \
        if ((level) <= rmpi__log_level)                                              \
            rmpi__log_emit((level), (module), __VA_ARGS__);                          \
    } while (0)

#define rmpi_error(mod, ...) RMPI_LOG(RMPI_LOG_ERROR, mod, __VA_ARGS__)
#define rmpi_warn(mod, ...)  RMPI_LOG(RMPI_LOG_WARN, mod, __VA_ARGS__)
#define rmpi_info(mod, ...)  RMPI_LOG(RMPI_LOG_INFO, mod, __VA_ARGS__)
#define rmpi_debug(mod, ...) RMPI_LOG(RMPI_LOG_DEBUG, mod, __VA_ARGS__)
#define rmpi_trace(mod, ...) RMPI_LOG(RMPI_LOG_TRACE, mod, __VA_ARGS__)

#endif
