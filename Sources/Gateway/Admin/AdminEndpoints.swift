import HTTP

/// `POST /admin/drain`, registered only when `--admin-token` is set (404 otherwise).
enum AdminEndpoints {
    static func register(on router: Router, token: String, drain: DrainController) {
        router.addHTTP("/admin/drain", methods: ["POST"]) { head, _ in
            guard let authorization = head.header("authorization"),
                  FeedEndpoint.constantTimeEquals(authorization, "Bearer " + token) else {
                return HTTPResponse(status: .unauthorized, contentType: "application/json",
                                    body: "{\"error\":\"Authorization: Bearer <admin token> required\"}\n",
                                    headers: [("WWW-Authenticate", "Bearer")])
            }
            drain.begin(trigger: "POST /admin/drain")
            return HTTPResponse(status: .accepted, contentType: "application/json",
                                body: "{\"draining\":true,\"phase\":\"\(drain.phase.rawValue)\"}\n")
        }
    }
}
