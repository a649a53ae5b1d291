import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { BusModule } from '../bus/bus.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { UsersModule } from '../users/users.module.js';
import { ChatGateway } from './chat.gateway.js';
import { ConnectionRegistry } from './connection.registry.js';
import { FrameMetrics } from './frame-metrics.js';
import { JoinsService } from './joins.service.js';
import { MessagesController } from './messages.controller.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { RoomEventsListener } from './room-events.listener.js';
import { RoomFanout } from './room-fanout.js';
import { RoomCreationRateGuard, RoomsController } from './rooms.controller.js';
import { RememberProfileInterceptor } from './profile-claims.js';
import { UsersController } from './users.controller.js';
import { UserEventsListener } from './user-events.listener.js';
import { WsErrorFilter } from './ws-error.filter.js';
import { WsJwtGuard } from './ws-jwt.guard.js';

/** The socket edge and the REST controllers: everything that speaks to clients. */
@Module({
  imports: [AuthModule, BusModule, RoomsModule, PresenceModule, MessagesModule, UsersModule],
  controllers: [RoomsController, MessagesController, UsersController],
  providers: [
    ChatGateway,
    ConnectionRegistry,
    FrameMetrics,
    WsJwtGuard,
    WsErrorFilter,
    RestRateGuard,
    RoomCreationRateGuard,
    RoomFanout,
    JoinsService,
    RoomEventsListener,
    UserEventsListener,
    RememberProfileInterceptor,
  ],
})
export class ChatModule {}
