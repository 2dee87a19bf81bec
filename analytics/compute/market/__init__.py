"""Market sizing: TAM/SAM/SOM top-down and bottom-up, sensitivity, 5-year projection, competitors.

Every figure is annual revenue in USD.

Top-down (from the whole market down to you):
    TAM = sum over all segments of companies x ACV           (every company that could buy, at its ACV)
    SAM = sum over served segments of companies x adoption x ACV
          (served = the regions, industries and sizes you sell to; adoption = share that buys an AI
          support tool within the horizon)
    SOM = SAM x obtainable share

Bottom-up (from your go-to-market capacity up):
    reachable accounts = served companies x reach rate    (or a fixed number of accounts a year, spread
                                                           over served segments by company count)
    SAM = reachable accounts x ACV                         the revenue your sales and marketing can reach
    SOM = reachable accounts x win rate x ACV
    (TAM is the same as top-down.)

Modules: `segments` and `competitors` load a workspace table through a column mapping (`columns` checks
the mapped columns); `sizing` holds the assumptions and both methods; `sensitivity` the tornado data;
`projection` the years ahead; `view` everything the Market page shows in one call. Pure functions over
DataFrames; the two loaders read the workspace through `analytics.db`.
"""
